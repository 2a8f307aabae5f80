"""Batch-versioned snapshots of the feature state, beside the streaming checkpoint.

Batch N is computed from the state as of batch N-1 and its snapshot N is written after
the MySQL commit of N. A replay of N after a crash (Spark re-runs a batch its commit log
lacks) loads snapshot N-1 again, so the state always matches what the sink committed.
"""
from __future__ import annotations

import logging
import os
import pickle
import re
from pathlib import Path

from features.engine import FeatureState

log = logging.getLogger(__name__)

_SNAPSHOT = re.compile(r"^state-(\d+)\.pkl$")


class FeatureStateError(RuntimeError):
    """The state a batch needs is missing."""


class FeatureStateStore:
    """Keeps the current state in memory and the last `keep` versions on disk."""

    def __init__(self, folder: Path, keep: int = 3):
        self.folder = Path(folder)
        self.keep = keep
        self._current: FeatureState | None = None

    def state_before(self, batch_id: int) -> FeatureState:
        """The state as of batch_id - 1 (empty for a stream with no snapshot yet)."""
        wanted = batch_id - 1
        if self._current is not None and self._current.version == wanted:
            return self._current
        versions = self.versions()
        if wanted in versions:
            with open(self._path(wanted), "rb") as handle:
                self._current = pickle.load(handle)
            log.info("feature state restored from snapshot of batch %d", wanted)
            return self._current
        if not versions:
            if batch_id > 0:
                log.warning("no feature state snapshot in %s: batch %d starts from an empty state",
                            self.folder, batch_id)
            return FeatureState(version=wanted)
        raise FeatureStateError(
            f"batch {batch_id} needs the feature state of batch {wanted}, but {self.folder} holds "
            f"snapshots of batches {versions}; the checkpoint and the state folder do not belong together")

    def save(self, state: FeatureState) -> None:
        """Write the snapshot atomically (temp file + rename), then drop old ones."""
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / f".state-{state.version}.tmp"
        with open(temporary, "wb") as handle:
            pickle.dump(state, handle, protocol=pickle.HIGHEST_PROTOCOL)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self._path(state.version))
        self._current = state
        for version in self.versions()[:-self.keep]:
            self._path(version).unlink(missing_ok=True)

    def versions(self) -> list[int]:
        if not self.folder.exists():
            return []
        return sorted(int(m.group(1)) for p in self.folder.iterdir() if (m := _SNAPSHOT.match(p.name)))

    def _path(self, version: int) -> Path:
        return self.folder / f"state-{version}.pkl"
