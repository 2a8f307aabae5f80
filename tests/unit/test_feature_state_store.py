"""The feature state store: a state restored from its snapshot and deltas gives the features
the live state gives, and a snapshot of the previous format still loads."""
from __future__ import annotations

import pickle
from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from features.batch import labels_after_delay, payments_input
from features.definitions import FeatureConfig
from features.engine import FeatureState, apply_batch
from features.state_store import FeatureStateStore, SnapshotPolicy, load_snapshot
from generator.simulator import SimulationParams, generate

CONFIG = FeatureConfig()


@pytest.fixture(scope="module")
def batches():
    payments, _ = generate(SimulationParams(n_customers=30, n_terminals=20, n_days=40, seed=7, radius=20))
    ordered = payments.sort_values("event_time", kind="stable")
    no_labels = labels_after_delay(ordered.head(0), timedelta(days=7))
    return [(payments_input(ordered.iloc[rows]), no_labels) for rows in np.array_split(np.arange(len(ordered)), 50)]


def test_a_restored_state_gives_the_live_states_features(batches, tmp_path):
    store = FeatureStateStore(tmp_path, CONFIG, SnapshotPolicy(min_rows=200, max_batches=7))
    for version, (payments, labels) in enumerate(batches[:-1]):
        _, state = apply_batch(store.state_before(version), payments, labels, CONFIG, version)
        store.save(state, payments, labels)
    store.wait_for_snapshot()
    assert store.versions("state"), "the policy should have written snapshots"
    assert len(state.customer_runs) > 1, "the state should hold several runs (merges pending)"
    last = len(batches) - 1
    live, _ = apply_batch(store.state_before(last), *batches[-1], CONFIG, last)
    restored_store = FeatureStateStore(tmp_path, CONFIG)
    restored, _ = apply_batch(restored_store.state_before(last), *batches[-1], CONFIG, last)
    pd.testing.assert_frame_equal(restored, live)


def test_a_snapshot_of_the_previous_format_loads_as_one_run_per_kind(batches, tmp_path):
    state = FeatureState()
    for version, (payments, labels) in enumerate(batches[:20]):
        _, state = apply_batch(state, payments, labels, CONFIG, version)
    customer = [np.concatenate(parts) for parts in zip(*((r.code, r.time, r.cents, r.txid) for r in state.customer_runs))]
    order = np.lexsort((customer[1], customer[0]))
    terminal = [np.concatenate(parts) for parts in zip(*((r.code, r.time) for r in state.terminal_runs))]
    term_order = np.lexsort((terminal[1], terminal[0]))
    record = {"version": state.version, "max_event_us": state.max_event_us,
              "customers": pa.array(list(state.customers.codes)), "terminals": pa.array(list(state.terminals.codes)),
              "cust_code": customer[0][order], "cust_time": customer[1][order], "cust_cents": customer[2][order],
              "cust_txid": pa.array(customer[3][order], type=pa.string()),
              "term_code": terminal[0][term_order], "term_time": terminal[1][term_order],
              "fraud_code": state.fraud_code, "fraud_time": state.fraud_time,
              "fraud_labeled_at": state.fraud_labeled_at, "fraud_txid": pa.array(state.fraud_txid, type=pa.string())}
    path = tmp_path / "state-19.pkl"
    path.write_bytes(pickle.dumps(record))
    loaded = load_snapshot(path)
    assert len(loaded.customer_runs) == 1 and loaded.customer_events == state.customer_events
    expected, _ = apply_batch(state, *batches[20], CONFIG, 20)
    actual, _ = apply_batch(loaded, *batches[20], CONFIG, 20)
    pd.testing.assert_frame_equal(actual, expected)
