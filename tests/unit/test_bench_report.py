"""bench/RESULTS.md written again from the JSON results keeps its hand-written rounds."""
from __future__ import annotations

from bench import report


def test_the_hand_written_part_survives_a_rewrite(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "RESULTS_DIR", tmp_path / "results")
    monkeypatch.setattr(report, "RESULTS_MD", tmp_path / "RESULTS.md")
    hand_written = f"{report.HAND_WRITTEN_MARK}\n\n## A round, back to back\n\nbefore 1 vs after 2\n"
    report.RESULTS_MD.write_text("# Benchmark results\n\nan old generated part\n\n" + hand_written)
    report.write_markdown()
    text = report.RESULTS_MD.read_text()
    assert text.endswith(hand_written) and "an old generated part" not in text
