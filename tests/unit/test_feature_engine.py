"""The feature engine against a slow, obvious oracle; chunked (streaming) equals one pass."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from features.batch import compute_features, labels_after_delay, payments_input
from features.definitions import FeatureConfig, all_feature_names
from features.engine import FeatureState, apply_batch
from generator.simulator import SimulationParams, generate

CONFIG = FeatureConfig()
DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def dataset():
    payments, _ = generate(SimulationParams(n_customers=40, n_terminals=30, n_days=45, seed=5, radius=20))
    return payments


def oracle(dataset: pd.DataFrame, row) -> dict:
    """Each feature straight from its definition, for one payment."""
    t, delay = row.event_time, pd.Timedelta(days=CONFIG.label_delay_days)
    mine = dataset[dataset.customer_id == row.customer_id]
    at_terminal = dataset[dataset.terminal_id == row.terminal_id]
    out = {"amount": row.amount, "during_weekend": int(t.weekday() >= 5), "during_night": int(t.hour <= 6)}
    for days in CONFIG.customer_windows_days:
        window = mine[(mine.event_time > t - days * DAY) & (mine.event_time <= t)]
        out[f"cust_count_{days}d"] = len(window)
        out[f"cust_mean_amount_{days}d"] = round(window.amount.sum() * 100) / 100 / len(window)
    for minutes, label in ((10, "10m"), (60, "1h")):
        window = mine[(mine.event_time > t - pd.Timedelta(minutes=minutes)) & (mine.event_time <= t)]
        out[f"cust_count_{label}"], out[f"cust_sum_amount_{label}"] = len(window), window.amount.sum()
    for days in CONFIG.terminal_windows_days:
        window = at_terminal[(at_terminal.event_time > t - delay - days * DAY)
                             & (at_terminal.event_time <= t - delay)]
        out[f"term_count_{days}d"] = len(window)
        out[f"term_risk_{days}d"] = window.is_fraud.mean() if len(window) else 0.0
    return out


def test_engine_matches_the_definitions(dataset):
    features = compute_features(dataset, labels_after_delay(dataset, timedelta(days=7)), CONFIG)
    rng = np.random.default_rng(0)
    for index in rng.choice(len(dataset), 300, replace=False):
        expected = oracle(dataset, dataset.iloc[index])
        actual = features.iloc[index]
        for name, value in expected.items():
            assert actual[name] == pytest.approx(value, abs=1e-9), (index, name)
    assert set(all_feature_names(CONFIG)) <= set(features.columns)
    assert not features["is_late"].any() and not features["is_duplicate"].any()


@pytest.mark.parametrize("batches", [17, 400])
def test_micro_batches_give_exactly_the_one_pass_features(dataset, batches):
    """17 batches, or 400 small ones (many run merges, events leaving the horizon between them)."""
    labels = labels_after_delay(dataset, timedelta(days=7))
    one_pass = compute_features(dataset, labels, CONFIG)
    ordered = dataset.sort_values("event_time", kind="stable")
    state, parts = FeatureState(), []
    labeled_at = pd.to_datetime(labels["labeled_at_us"], unit="us", utc=True)
    previous_end = ordered["event_time"].min() - DAY
    for version, rows in enumerate(np.array_split(np.arange(len(ordered)), batches)):
        chunk = ordered.iloc[rows]
        end = chunk["event_time"].max()  # labels known during the chunk's span arrive with it
        batch_labels = labels[(labeled_at > previous_end) & (labeled_at <= end)]
        features, state = apply_batch(state, payments_input(chunk), batch_labels, CONFIG, version)
        previous_end = end
        parts.append(features)
    streamed = pd.concat(parts).reindex(dataset.index)
    pd.testing.assert_frame_equal(streamed.drop(columns="is_late"), one_pass.drop(columns="is_late"))


def test_a_resent_payment_is_a_duplicate_and_not_counted_twice(dataset):
    first = dataset.sort_values("event_time").head(50)
    _, state = apply_batch(FeatureState(), payments_input(first), labels_after_delay(first.head(0), timedelta(7)),
                           CONFIG, 0)
    again = pd.concat([first.tail(1), first.tail(1)])
    features, after = apply_batch(state, payments_input(again), labels_after_delay(first.head(0), timedelta(7)),
                                  CONFIG, 1)
    assert features["is_duplicate"].tolist() == [True, True]
    assert after.customer_events == state.customer_events


def test_a_payment_behind_the_allowed_lateness_is_still_computed_and_flagged_late(dataset):
    ordered = dataset.sort_values("event_time")
    head, late = ordered.iloc[:-1], ordered.iloc[[0]].assign(transaction_id="late-1")
    no_labels = labels_after_delay(head.head(0), timedelta(7))
    _, state = apply_batch(FeatureState(), payments_input(head), no_labels, CONFIG, 0)
    features, _ = apply_batch(state, payments_input(late), no_labels, CONFIG, 1)
    assert bool(features["is_late"].iloc[0]) is True
    assert features["cust_count_1d"].iloc[0] >= 1 and not np.isnan(features["term_risk_30d"].iloc[0])


def test_apply_batch_leaves_the_given_state_unchanged(dataset):
    chunk = dataset.head(100)
    _, state = apply_batch(FeatureState(), payments_input(chunk), labels_after_delay(chunk, timedelta(7)), CONFIG, 0)
    runs = (state.customer_runs, state.terminal_runs, len(state.fraud_time))
    apply_batch(state, payments_input(dataset.iloc[100:200]), labels_after_delay(chunk, timedelta(7)), CONFIG, 1)
    assert (state.customer_runs, state.terminal_runs, len(state.fraud_time)) == runs


def test_a_payment_behind_the_horizon_counts_only_the_events_inside_it(dataset):
    """Events older than the retention horizon are out of every window, whether or not the
    run holding them has been merged (pruned) yet: a very late payment sees the same."""
    ordered = dataset.sort_values("event_time", kind="stable")
    no_labels = labels_after_delay(ordered.head(0), timedelta(7))
    state = FeatureState()
    for version, rows in enumerate(np.array_split(np.arange(len(ordered)), 60)):
        _, state = apply_batch(state, payments_input(ordered.iloc[rows]), no_labels, CONFIG, version)
    horizon = pd.Timestamp(state.max_event_us, unit="us", tz="UTC") - pd.Timedelta(
        microseconds=CONFIG.customer_retention_us)
    customer = ordered.customer_id.iloc[-1]
    late_time = horizon + pd.Timedelta(days=10)
    late = ordered.iloc[[-1]].assign(transaction_id="late-2", event_time=late_time)
    features, _ = apply_batch(state, payments_input(late), no_labels, CONFIG, 60)
    mine = ordered[(ordered.customer_id == customer) & (ordered.event_time >= horizon)]
    for days in CONFIG.customer_windows_days:
        inside = mine[(mine.event_time > late_time - days * DAY) & (mine.event_time <= late_time)]
        assert features[f"cust_count_{days}d"].iloc[0] == len(inside) + 1, days
    assert bool(features["is_late"].iloc[0]) is True
