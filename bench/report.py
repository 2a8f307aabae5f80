"""Benchmark results as JSON (bench/results/<kind>.json) and the markdown table bench/RESULTS.md."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path

from core.config import PROJECT_ROOT

RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
RESULTS_MD = PROJECT_ROOT / "bench" / "RESULTS.md"
# Below this line RESULTS.md holds hand-written rounds (runs of two versions back to back), kept
# as they are when the generated sections above it are written again.
HAND_WRITTEN_MARK = "<!-- Hand-written below: back-to-back rounds, kept by bench/report.py -->"


SPEED_CHECK_ADDITIONS = 10_000_000


def speed_check_seconds() -> float:
    """Best of three timings of a fixed pure-Python loop, taken with the results: this shared
    host's speed varies by a third from hour to hour, and runs compare only at equal speed."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for number in range(SPEED_CHECK_ADDITIONS):
            total += number
        best = min(best, time.perf_counter() - started)
    return round(best, 3)


def machine() -> dict:
    """What the figures were measured on, and how fast it ran just after the run."""
    memory_kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal")))
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"cpus": os.cpu_count(), "cpu_model": cpu, "memory_gib": round(memory_kib / 2 ** 20, 1),
            "os": platform.platform(), "python": platform.python_version(), "java": _java_version(),
            "speed_check_seconds": speed_check_seconds(),
            "note": "Kafka broker, MariaDB, the job and the load generator all on this machine"}


def _java_version() -> str:
    done = subprocess.run(["java", "-version"], capture_output=True, text=True)
    return (done.stderr.splitlines() or ["?"])[0]


def save(kind: str, result: dict) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{kind}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    write_markdown()
    return path


def save_run(kind: str, result: dict) -> Path:
    """Keep one result per setting of a kind (runs at several settings, side by side)."""
    runs = [run for run in (load(kind) or {"runs": []})["runs"] if run["settings"] != result["settings"]]
    return save(kind, {"runs": [*runs, result]})


def load(kind: str) -> dict | None:
    path = RESULTS_DIR / f"{kind}.json"
    return json.loads(path.read_text()) if path.exists() else None


def write_markdown() -> None:
    """bench/RESULTS.md from the JSON results present (the committed ones are the reference run)."""
    lines = ["# Benchmark results", "",
             "Written by `make bench` (bench/report.py) from `bench/results/*.json`; do not edit by hand "
             "above the hand-written mark.", ""]
    for kind, render in (("throughput", _throughput_lines), ("latency", _latency_lines),
                         ("state_stage", _state_stage_lines), ("state_scale", _state_scale_lines),
                         ("recovery", _recovery_lines), ("cold_start", _cold_start_lines), ("cluster", _cluster_lines),
                         ("side_by_side", _side_by_side_lines),
                         ("dashboard", _dashboard_lines)):
        result = load(kind)
        if result:
            lines += render(result) + [""]
    any_result = load("throughput") or load("latency")
    if any_result:
        lines += ["## Machine", ""] + [f"- {key}: {value}" for key, value in any_result["machine"].items()] + [""]
    RESULTS_MD.write_text("\n".join(lines) + _hand_written_part())


def _hand_written_part() -> str:
    """The current file's part from HAND_WRITTEN_MARK on (empty when it has none)."""
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else ""
    return "\n" + text[text.index(HAND_WRITTEN_MARK):] if HAND_WRITTEN_MARK in text else ""


def _throughput_lines(result: dict) -> list[str]:
    e2e, stages = result["end_to_end"], result.get("stages_alone") or {}
    lines = [f"## Throughput ({result['measured_at']})", "", f"Command: `{result['command']}`", "",
             "| measure | figure |", "|---|---|",
             f"| messages preloaded | {result['messages']:,} in {result['partitions']} partitions |",
             f"| end to end (first batch start to last commit) | **{e2e['tx_per_second']:,.0f} tx/s** "
             f"({e2e['rows']:,} rows in {e2e['seconds']:.1f} s, {e2e['batches']} micro-batches; target 25,000) |",
             f"| job wall time incl. start-up | {result['job_wall_seconds']:.1f} s |",
             _history_line(result)]
    for stage, rate in (stages.get("rows_per_second") or {}).items():
        lines.append(f"| stage's share: {stage} | {rate:,} rows/s ({stages['seconds'][stage]:.1f} s) |")
    for role, mib in result["peak_rss_mib"].items():
        lines.append(f"| peak RSS {role} | {mib:,.0f} MiB |")
    lines.append(_state_line(result.get("state", {})))
    lines += [_speed_line(result), "", "Settings: " + ", ".join(f"{k} = {v}" for k, v in result["settings"].items())]
    return lines


def _state_stage_lines(result: dict) -> list[str]:
    lines = ["## Stateful stage alone (`make bench-state`)", "",
             "Generated payments, already parsed, through the two velocity operators into the no-op sink.", "",
             "| setting | steady rows/s | rows/s with start-up | median micro-batch | state on disk | measured |",
             "|---|---|---|---|---|---|"]
    for run in result["runs"]:
        s = run["settings"]
        setting = (f"{s['customers']:,} customers, {s['terminals']:,} terminals, {s['payments']:,} payments over "
                   f"{s['days']:g} days in {s['batches']} micro-batches"
                   + (f", {s['hot_terminal_share']:.0%} at one terminal" if s["hot_terminal_share"] else ""))
        lines.append(f"| {setting} | **{run['rows_per_second_steady']:,}** | {run['rows_per_second_incl_start']:,} | "
                     f"{run['median_batch_ms']:,.0f} ms | {run['checkpoint_state_mib']} MiB | "
                     f"{run['measured_at']}, speed check {run['machine']['speed_check_seconds']} s |")
    return lines


def _state_scale_lines(result: dict) -> list[str]:
    s, at_scale, empty = result["settings"], result["at_scale"], result["empty_state"]
    return [f"## State at scale ({result['measured_at']})", "", f"Command: `{result['command']}`", "",
            "| measure | figure |", "|---|---|",
            f"| state built from | {s['history_payments']:,} payments of {s['customers']:,} customers at "
            f"{s['terminals']:,} terminals over {s['history_days']:g} days, in {result['build']['seconds']:,} s "
            f"({result['build']['rows_per_second']:,} rows/s) |",
            f"| stateful operators, {s['measured_payments']:,} further payments | "
            f"**{at_scale['rows_per_second_steady']:,} rows/s** against that state, "
            f"{empty['rows_per_second_steady']:,} rows/s against an empty state "
            f"(median micro-batch {at_scale['median_batch_ms']:,.0f} vs {empty['median_batch_ms']:,.0f} ms) |",
            f"| Python driver RSS | {result['python_driver_rss_mib']['before']} MiB before the state was built, "
            f"{result['python_driver_rss_mib']['after']} MiB after |",
            "| peak RSS | " + ", ".join(f"{k} {v:,.0f} MiB" for k, v in result["peak_rss_mib"].items()) + " |",
            f"| RocksDB memory (operators' report) | {result['rocksdb_memory_mib']:,} MiB |",
            f"| state on disk (checkpoint) | {result['checkpoint_state_mib']:,} MiB |",
            f"| restart from the checkpoint | one micro-batch done {result['restart']['to_first_batch_done_s']} s "
            f"after start (that batch {result['restart']['first_batch_ms']:,} ms) |",
            _speed_line(result)]


def _recovery_lines(result: dict) -> list[str]:
    lines = [f"## Recovery after kill -9 ({result['measured_at']})", "", f"Command: `{result['command']}`", "",
             "| measure | figure |", "|---|---|",
             f"| kill -9 to the first committed micro-batch (median of {len(result['kills'])}) | "
             f"**{result['median_to_first_commit_s']} s** (target 15) |",
             f"| of which: restarted job's start-up to its running query | {result['median_to_query_start_s']} s |",
             "| each kill | " + "; ".join(f"{k['to_first_commit_s']} s ({k['to_query_start_s']} s to start)"
                                          for k in result["kills"]) + " |",
             f"| live load | {result['rate']:,} tx/s |", _speed_line(result)]
    return lines


def _cold_start_lines(result: dict) -> list[str]:
    settings = result["settings"]
    lines = [f"## Cold start, explanations on and off ({result['measured_at']})", "",
             f"Command: `{result['command']}`", "",
             f"{settings['payments']:,} generated payments without history, "
             f"{settings['max_offsets_per_trigger']:,} per micro-batch, `--available-now` from a new checkpoint, "
             "each run on an emptied database.", "",
             "| explanations | in all | to a running query | first micro-batch | alerts in it | alerts in all |",
             "|---|---|---|---|---|---|"]
    for run in result["runs"]:
        lines.append(f"| {'on' if run['explain_alerts'] else 'off'} | **{run['wall_s']} s** | "
                     f"{run['to_query_start_s']} s | {run['first_batch_s']} s | "
                     f"{run['first_batch_alerts']:,} of {run['first_batch_scored']:,} | "
                     f"{run['alerts']:,} of {run['scored']:,} |")
    speed = result["machine"]["speed_check_seconds"]
    return lines + ["", f"Host speed check just after the run: {speed:.2f} s for {SPEED_CHECK_ADDITIONS:,} additions "
                        "in a Python loop (lower is faster)."]


def _state_line(state: dict) -> str:
    if "checkpoint_state_mib" in state:
        return f"| velocity state in the checkpoint (RocksDB files) | {state['checkpoint_state_mib']:.1f} MiB |"
    return (f"| feature state (driver-side engine) | {state['events']:,} events, "
            f"{state['snapshot_mib']:.1f} MiB snapshot |")


def _speed_line(result: dict) -> str:
    """The host's speed check taken with the run (older results lack it)."""
    seconds = result["machine"].get("speed_check_seconds")
    if not seconds:
        return "| host speed check just after the run | not taken (an older result) |"
    return (f"| host speed check just after the run | {seconds:.2f} s for {SPEED_CHECK_ADDITIONS:,} additions in a "
            "Python loop (lower is faster; compare runs only at similar figures) |")


def _history_line(result: dict) -> str:
    """Which database the run wrote to and how full its scored_transactions was (the write slows as it grows)."""
    database, rows = result.get("database", "payments"), result.get("scored_transactions_rows_before", 0)
    history = f"about {rows:,} rows already there" if rows else "empty at the start of the run"
    return f"| database; its scored_transactions | {database}; {history} |"


def _latency_lines(result: dict) -> list[str]:
    latency, warm_up = result["latency_ms"], result.get("warm_up_latency_ms")
    lines = [f"## Latency ({result['measured_at']})", "", f"Command: `{result['command']}`", "",
             "| measure | figure |", "|---|---|",
             f"| offered load | {result['rate']:,} tx/s: {result.get('warm_up_seconds', 0)} s of warm-up, then "
             f"{result['duration_seconds']} s measured ({result['rows']:,} rows) |",
             f"| send-to-commit p50 | **{latency['p50']:,.0f} ms** (target ≤ 600) |",
             f"| p95 | {latency['p95']:,.0f} ms |",
             f"| p99 | **{latency['p99']:,.0f} ms** (target ≤ 1,000) |",
             f"| max | {latency['max']:,.0f} ms |"]
    if warm_up:
        lines.append(f"| during the warm-up (not in the figures above) | p50 {warm_up['p50']:,} ms, p99 "
                     f"{warm_up['p99']:,} ms, max {warm_up['max']:,} ms ({result['warm_up_rows']:,} rows) |")
    return lines + [
        _history_line(result),
        "| peak RSS | " + ", ".join(f"{r} {m:,.0f} MiB" for r, m in result["peak_rss_mib"].items()) + " |",
        _speed_line(result),
        "", "Settings: " + ", ".join(f"{k} = {v}" for k, v in result["settings"].items())]


def compare(kind: str, old_path: Path, new_path: Path) -> dict:
    """The headline figures of two results of one benchmark (the previous design's and this
    one's, run back to back on the same data), for the side-by-side table."""
    old, new = (json.loads(Path(path).read_text()) for path in (old_path, new_path))
    pick = {"throughput": lambda r: {"tx/s end to end": round(r["end_to_end"]["tx_per_second"]),
                                     "peak RSS python_driver MiB": round(r["peak_rss_mib"]["python_driver"]),
                                     "peak RSS jvm MiB": round(r["peak_rss_mib"]["jvm"])},
            "latency": lambda r: {f"{q} ms": round(r["latency_ms"][q]) for q in ("p50", "p95", "p99", "max")}}[kind]
    return {"kind": kind, "old": {"measured_at": old["measured_at"], **pick(old)},
            "new": {"measured_at": new["measured_at"], **pick(new)}}


def save_comparisons(comparisons: list[dict]) -> Path:
    return save("side_by_side", {"comparisons": comparisons, "measured_at": time.strftime("%Y-%m-%d %H:%M UTC"),
                                 "machine": machine()})


def _side_by_side_lines(result: dict) -> list[str]:
    lines = ["## Side by side: state in Spark (this code) and the driver-side engine (the previous code)", "",
             "Each pair ran back to back, same command, same generated data, on this machine; the previous "
             "code from a worktree of commit 10b7e7d (`python -m bench.report side-by-side` writes this).", "",
             "| benchmark | measure | previous code | this code |", "|---|---|---|---|"]
    for comparison in result["comparisons"]:
        for measure in (key for key in comparison["new"] if key != "measured_at"):
            lines.append(f"| {comparison['kind']} ({comparison['new']['measured_at']}) | {measure} | "
                         f"{comparison['old'][measure]:,} | **{comparison['new'][measure]:,}** |")
    return lines


def main(argv: list[str] | None = None) -> None:
    """python -m bench.report side-by-side KIND OLD.json NEW.json [KIND OLD.json NEW.json ...]"""
    import sys

    args = (argv if argv is not None else sys.argv[1:])
    if not args or args[0] != "side-by-side" or (len(args) - 1) % 3:
        raise SystemExit(main.__doc__)
    triples = [args[i:i + 3] for i in range(1, len(args), 3)]
    print(save_comparisons([compare(kind, Path(old), Path(new)) for kind, old, new in triples]))


def _cluster_lines(result: dict) -> list[str]:
    comparison = result["comparison"]
    lines = [f"## Standalone cluster ({result['measured_at']})", "", f"Command: `{result['command']}`", "",
             "| measure | figure |", "|---|---|",
             f"| cluster | {result['cluster']}: {result['workers']} workers x {result['cores_per_worker']} core |",
             f"| records | {result['records']:,}: cluster {result['cluster_seconds']:.0f} s, "
             f"local[2] {result['local_seconds']:.0f} s (same 2-core machine) |"]
    for executor_id, figures in result["executors"].items():
        stateful = (f"; {figures['stateful_tasks']} stateful-operator tasks on state partitions "
                    f"{figures['state_partitions']}, {figures['state_rows_updated']:,} state rows written"
                    if "stateful_tasks" in figures else "")
        lines.append(f"| executor {executor_id} | {figures['tasks']} tasks, {figures['kafka_tasks']} input tasks, "
                     f"{figures['records_read']:,} Kafka records read{stateful} |")
    lines += [f"| model loaded from the shipped copy | {len(result['model_loads'])} Python workers |",
              f"| decisions identical to local mode | {comparison['identical']} ({comparison['cluster_rows']:,} rows, "
              f"{comparison['differing']} differing) |"]
    return lines


def _dashboard_lines(result: dict) -> list[str]:
    lines = [f"## Dashboard ({result['measured_at']})", "", f"Command: `{result['command']}`", "",
             f"{result['scored_rows']:,} rows in scored_transactions (separate database, generated in the server); "
             f"headless Chromium; {result['rounds']} rounds. A view counts as rendered when its last element (the "
             "'Figures as of' line) is shown. 'Switch' is a click on the view in the sidebar (how users move; the "
             "page stays loaded); 'page load' reloads the whole app (Streamlit's start-up in the browser). "
             "Target: under 1 s.", "",
             "| view | switch, median | switch, max | page load, median | first page load in a new browser "
             "| database reads (median) |", "|---|---|---|---|---|---|"]
    for view, pages in result["page_seconds"].items():
        lines.append(f"| {view} | **{pages['median']:.2f} s** | {pages['max']:.2f} s | {pages['page_load']:.2f} s | "
                     f"{pages['first_load']:.2f} s | {result['database_seconds'][view] * 1000:.0f} ms |")
    scans = [name for name, plan in result["query_plans"].items() if plan["scans_scored_transactions"]]
    lines += ["", "EXPLAIN of every dashboard query: " + (
        "none reads all of scored_transactions." if not scans else f"full scans in {', '.join(scans)}.")]
    return lines


if __name__ == "__main__":
    main()
