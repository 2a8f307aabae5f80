"""The registry's state machine: promote, shadow, rollback as the history of commands decides them."""
from __future__ import annotations

from datetime import datetime

import pytest

from model.registry import RegistryError, next_assignment
from sinks.model_registry import Assignment, RegistryEntry

DEFAULT = "rf-1"


def history_of(*steps: tuple[str, str | None]) -> list[RegistryEntry]:
    """The history the commands (action, version) leave, each applied to the one before."""
    history: list[RegistryEntry] = []
    for number, (action, version) in enumerate(steps):
        assignment = next_assignment(history, action, version, DEFAULT)
        history.append(RegistryEntry(number, action, assignment, "analyst", datetime(2026, 12, 1)))
    return history


def test_promote_makes_the_champion_and_a_promoted_shadow_stops_being_a_shadow():
    assert history_of(("promote", "gb-2"))[-1].assignment == Assignment("gb-2")
    assert history_of(("shadow", "gb-2"))[-1].assignment == Assignment(DEFAULT, "gb-2")
    assert history_of(("shadow", "gb-2"), ("promote", "gb-2"))[-1].assignment == Assignment("gb-2")
    assert history_of(("shadow", "gb-2"), ("promote", "lr-3"))[-1].assignment == Assignment("lr-3", "gb-2")


def test_rollback_returns_to_the_champion_before_each_promotion_in_turn():
    history = history_of(("promote", "gb-2"), ("promote", "lr-3"), ("rollback", None))
    assert history[-1].assignment == Assignment("gb-2")
    history = history_of(("promote", "gb-2"), ("promote", "lr-3"), ("rollback", None), ("rollback", None))
    assert history[-1].assignment == Assignment(DEFAULT)
    with pytest.raises(RegistryError, match="nothing to roll back"):
        history_of(("promote", "gb-2"), ("rollback", None), ("rollback", None))


def test_rollback_keeps_the_shadow_unless_it_becomes_the_champion():
    history = history_of(("promote", "gb-2"), ("shadow", "lr-3"), ("rollback", None))
    assert history[-1].assignment == Assignment(DEFAULT, "lr-3")
    history = history_of(("promote", "gb-2"), ("shadow", DEFAULT), ("rollback", None))
    assert history[-1].assignment == Assignment(DEFAULT)


def test_commands_that_change_nothing_are_refused():
    with pytest.raises(RegistryError, match="already the champion"):
        history_of(("promote", DEFAULT))
    with pytest.raises(RegistryError, match="is the champion"):
        history_of(("shadow", DEFAULT))
    with pytest.raises(RegistryError, match="no shadow"):
        history_of(("unshadow", None))
    with pytest.raises(RegistryError, match="never promoted"):
        history_of(("rollback", None))
