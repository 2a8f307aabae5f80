"""The feature state as of each committed batch, beside the streaming checkpoint.

Each batch's engine input (its payments and labels, small) is written as a delta; now and
then the whole state is written as a snapshot, in a background thread. The state as of
batch N is the newest snapshot at or before N with the deltas after it applied again, batch
by batch (the engine is deterministic, so this is the state the stream had).

Batch N is computed from the state as of batch N-1, and its delta is written after the
MySQL commit of N. A replay of N after a crash (Spark re-runs a batch its commit log
lacks) restores the state as of N-1 again, so the state always matches what was committed.
"""
from __future__ import annotations

import logging
import os
import pickle
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from features.definitions import FeatureConfig
from features.engine import EventRun, FeatureState, KeyCodes, apply_batch

log = logging.getLogger(__name__)

_FILE = re.compile(r"^(state|delta)-(\d+)\.pkl$")
FRAUD_ARRAYS = ("fraud_code", "fraud_time", "fraud_labeled_at")
SNAPSHOT_FORMAT = 2  # 2: event runs; 1 (no "format" key): one sorted array per column


class FeatureStateError(RuntimeError):
    """The state a batch needs is missing."""


@dataclass(frozen=True)
class SnapshotPolicy:
    """Snapshot when the deltas since the last one hold a quarter of the state's events (at
    least min_rows), or number max_batches: restoring replays a bounded amount of work."""

    min_rows: int = 50_000
    max_batches: int = 200

    def due(self, rows_since: int, batches_since: int, state_size: int) -> bool:
        return rows_since >= max(self.min_rows, state_size // 4) or batches_since >= self.max_batches


class FeatureStateStore:
    """Keeps the current state in memory; deltas and snapshots on disk."""

    def __init__(self, folder: Path, config: FeatureConfig, policy: SnapshotPolicy = SnapshotPolicy()):
        self.folder = Path(folder)
        self.config = config
        self.policy = policy
        self._current: FeatureState | None = None
        self._rows_since = 0
        self._batches_since = 0
        self._writer: threading.Thread | None = None
        self._writer_error: BaseException | None = None

    def state_before(self, batch_id: int) -> FeatureState:
        """The state as of batch_id - 1 (empty for a stream with nothing stored yet)."""
        wanted = batch_id - 1
        if self._current is not None and self._current.version == wanted:
            return self._current
        self.wait_for_snapshot()
        self._current = self._restore(wanted)
        return self._current

    def save(self, state: FeatureState, payments: pd.DataFrame, labels: pd.DataFrame) -> None:
        """Record batch state.version: its engine input as a delta (durable before this returns),
        and a snapshot of the state when the policy says so."""
        self._raise_writer_error()
        self.folder.mkdir(parents=True, exist_ok=True)
        _write_atomically(self._path("delta", state.version), delta_record(payments, labels))
        self._current = state
        self._rows_since += len(payments) + len(labels)
        self._batches_since += 1
        if self.policy.due(self._rows_since, self._batches_since, state.size) and not self._writing():
            self._start_snapshot(state)

    def wait_for_snapshot(self) -> None:
        """Block until a snapshot being written is on disk (before a restore, at shutdown)."""
        if self._writer is not None:
            self._writer.join()
            self._writer = None
        self._raise_writer_error()

    def versions(self, kind: str = "state") -> list[int]:
        if not self.folder.exists():
            return []
        return sorted(int(m.group(2)) for p in self.folder.iterdir()
                      if (m := _FILE.match(p.name)) and m.group(1) == kind)

    def _restore(self, wanted: int) -> FeatureState:
        snapshots = [v for v in self.versions("state") if v <= wanted]
        deltas = set(self.versions("delta"))
        if not snapshots and not deltas:
            if wanted >= 0:
                log.warning("no feature state in %s: batch %d starts from an empty state", self.folder, wanted + 1)
            return FeatureState(version=wanted)
        state = load_snapshot(self._path("state", snapshots[-1])) if snapshots else FeatureState(version=-1)
        missing = [v for v in range(state.version + 1, wanted + 1) if v not in deltas]
        if missing:
            raise FeatureStateError(
                f"the state as of batch {wanted} needs deltas {missing[:5]} after snapshot {state.version}, "
                f"which {self.folder} lacks; the checkpoint and the state folder do not belong together")
        for version in range(state.version + 1, wanted + 1):
            payments, labels = load_delta(self._path("delta", version))
            _, state = apply_batch(state, payments, labels, self.config, version)
        log.info("feature state of batch %d restored (snapshot %s + %d deltas)", wanted,
                 snapshots[-1] if snapshots else "none", wanted - (snapshots[-1] if snapshots else -1))
        self._rows_since, self._batches_since = 0, wanted - (snapshots[-1] if snapshots else -1)
        return state

    def _start_snapshot(self, state: FeatureState) -> None:
        record = snapshot_record(state)  # copies what later batches change (the key dictionaries)
        self._rows_since, self._batches_since = 0, 0

        def write() -> None:
            try:
                _write_atomically(self._path("state", state.version), record)
                self._drop_old_files()
            except BaseException as error:  # noqa: BLE001 - reported by the next save or restore
                self._writer_error = error

        self._writer = threading.Thread(target=write, name="feature-state-snapshot", daemon=True)
        self._writer.start()

    def _drop_old_files(self) -> None:
        """Keep the two newest snapshots and the deltas after the older one (a replayed batch may
        need the state before the newest snapshot)."""
        snapshots = self.versions("state")
        if len(snapshots) < 2:
            return
        keep_from = snapshots[-2]
        for version in snapshots[:-2]:
            self._path("state", version).unlink(missing_ok=True)
        for version in self.versions("delta"):
            if version <= keep_from:
                self._path("delta", version).unlink(missing_ok=True)

    def _writing(self) -> bool:
        return self._writer is not None and self._writer.is_alive()

    def _raise_writer_error(self) -> None:
        if self._writer_error is not None:
            error, self._writer_error = self._writer_error, None
            raise FeatureStateError(f"writing a feature state snapshot failed: {error}") from error

    def _path(self, kind: str, version: int) -> Path:
        return self.folder / f"{kind}-{version}.pkl"


def delta_record(payments: pd.DataFrame, labels: pd.DataFrame) -> dict:
    return {"payments": pa.Table.from_pandas(payments, preserve_index=False),
            "labels": pa.Table.from_pandas(labels, preserve_index=False)}


def load_delta(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    with open(path, "rb") as handle:
        record = pickle.load(handle)
    return _objects(record["payments"].to_pandas()), _objects(record["labels"].to_pandas())


def snapshot_record(state: FeatureState) -> dict:
    """The state in a form that pickles fast: numpy arrays, Arrow strings, each event run as
    it is (restored runs answer every query as the live ones did)."""
    return {"format": SNAPSHOT_FORMAT, "version": state.version, "max_event_us": state.max_event_us,
            "customers": pa.array(list(state.customers.codes)), "terminals": pa.array(list(state.terminals.codes)),
            "customer_runs": [{"code": run.code, "time": run.time, "cents": run.cents, "txid_hash": run.txid_hash,
                               "txid": pa.array(run.txid, type=pa.string())} for run in state.customer_runs],
            "terminal_runs": [{"code": run.code, "time": run.time} for run in state.terminal_runs],
            **{name: getattr(state, name) for name in FRAUD_ARRAYS},
            "fraud_txid": pa.array(state.fraud_txid, type=pa.string())}


def load_snapshot(path: Path) -> FeatureState:
    with open(path, "rb") as handle:
        record = pickle.load(handle)
    if isinstance(record, FeatureState):
        raise FeatureStateError(f"{path} is a feature state snapshot of an early release, which this one cannot "
                                "read; restart the stream with a new checkpoint location")
    customer_runs, terminal_runs = (_event_runs(record) if record.get("format") == SNAPSHOT_FORMAT
                                    else _format_1_event_runs(record))
    return FeatureState(
        version=record["version"], max_event_us=record["max_event_us"],
        customers=KeyCodes({key: code for code, key in enumerate(record["customers"].to_pylist())}),
        terminals=KeyCodes({key: code for code, key in enumerate(record["terminals"].to_pylist())}),
        customer_runs=customer_runs, terminal_runs=terminal_runs,
        **{name: record[name] for name in FRAUD_ARRAYS}, fraud_txid=_object_array(record["fraud_txid"]))


def _event_runs(record: dict) -> tuple[tuple[EventRun, ...], tuple[EventRun, ...]]:
    return (tuple(EventRun(run["code"], run["time"], run["cents"], _object_array(run["txid"]), run["txid_hash"])
                  for run in record["customer_runs"]),
            tuple(EventRun(run["code"], run["time"]) for run in record["terminal_runs"]))


def _format_1_event_runs(record: dict) -> tuple[tuple[EventRun, ...], tuple[EventRun, ...]]:
    """A snapshot of the previous format (one array per column, sorted by code and time) as one run each."""
    txid = _object_array(record["cust_txid"])
    customer = EventRun(record["cust_code"], record["cust_time"], record["cust_cents"], txid,
                        pd.util.hash_array(txid, categorize=False))
    terminal = EventRun(record["term_code"], record["term_time"])
    return tuple(run for run in (customer,) if len(run)), tuple(run for run in (terminal,) if len(run))


def _object_array(values: pa.Array) -> np.ndarray:
    return values.to_numpy(zero_copy_only=False).astype(object)


def _objects(frame: pd.DataFrame) -> pd.DataFrame:
    """String columns back as object arrays (what the engine is given in a live batch)."""
    for name in frame.columns:
        if frame[name].dtype != object and pd.api.types.is_string_dtype(frame[name]):
            frame[name] = frame[name].astype(object)
    return frame


def _write_atomically(path: Path, record: dict) -> None:
    """Write to a temporary file, fsync, rename: a crash leaves the old file or the new one."""
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as handle:
        pickle.dump(record, handle, protocol=pickle.HIGHEST_PROTOCOL)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
