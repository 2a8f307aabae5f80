"""The code reads in the order data flows: each stage's package imports only the ones below it.

core (config, session) < events (Kafka source, parse, schemas) < features (stateful velocity)
< udfs (model score) < decisions < sinks (foreachBatch JDBC, outbox) < pipeline (the query) < jobs.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["core", "events", "features", "udfs", "decisions", "sinks", "pipeline", "jobs"]
TOOLS = {"services", "dashboard", "training", "model", "backtest", "generator", "producer", "bench", "scripts", "tests"}


def imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", LAYERS[:-1])
def test_a_stage_imports_no_later_stage_and_no_tool(package):
    later = set(LAYERS[LAYERS.index(package) + 1:])
    offending = {str(path.relative_to(ROOT)): sorted(imported_packages(path) & (later | TOOLS))
                 for path in sorted((ROOT / package).rglob("*.py"))}
    assert not {path: names for path, names in offending.items() if names}
