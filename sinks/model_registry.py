"""The model registry's table (model_registry): which model version is the champion and which the
shadow, as an append-only history. The job reads the latest row before each micro-batch; the
`python -m model` commands append rows (model/registry.py)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sinks.mysql_connection import named_statements

REGISTRY_SQL = "model_registry.sql"
ACTIONS = ("promote", "shadow", "unshadow", "rollback")


@dataclass(frozen=True)
class Assignment:
    """The champion (scores and decides) and the shadow (scored beside it, or None)."""

    champion: str
    shadow: str | None = None


@dataclass(frozen=True)
class RegistryEntry:
    """One row of the history: what changed, to what, by whom and when."""

    id: int
    action: str
    assignment: Assignment
    changed_by: str
    changed_at: datetime


def latest_assignment(cursor) -> Assignment | None:
    """The assignment in force, None while the registry is empty (the configured model is champion)."""
    cursor.execute(named_statements(REGISTRY_SQL)["latest_assignment"])
    row = cursor.fetchone()
    return Assignment(row[0], row[1]) if row else None


def registry_history(cursor) -> list[RegistryEntry]:
    cursor.execute(named_statements(REGISTRY_SQL)["history"])
    return [RegistryEntry(int(id_), action, Assignment(champion, shadow), changed_by, changed_at)
            for id_, action, champion, shadow, changed_by, changed_at in cursor.fetchall()]


def record_assignment(cursor, action: str, assignment: Assignment, changed_by: str) -> None:
    if action not in ACTIONS:
        raise ValueError(f"not a registry action: {action!r} (one of {', '.join(ACTIONS)})")
    cursor.execute(named_statements(REGISTRY_SQL)["record_assignment"],
                   {"action": action, "champion": assignment.champion, "shadow": assignment.shadow,
                    "changed_by": changed_by})
