"""The stateful feature operators (java/velocity-state) against a slow, obvious oracle; streamed
in micro-batches (state in Spark's state store) equals one pass; late payments are kept."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from events.schemas import PARSED_RECORD_SCHEMA
from features.batch import as_parsed_records, compute_features, labels_after_delay, training_frame, training_records
from features.definitions import FeatureConfig, all_feature_names
from features.velocity import with_event_time_watermark, with_velocity_features
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


def stream_features(spark, tmp_path, chunks: list[tuple[pd.DataFrame, pd.DataFrame]], block_events: int = 4096):
    """The operators in a streaming query (event-time watermark, state in the state store), one
    micro-batch per (payments, labels) chunk; every output row, and the query's progress."""
    offset = 0
    for index, (payments, labels) in enumerate(chunks):
        records = training_records(payments, labels)
        records["kafka_offset"] += offset
        offset += len(records)
        chunk_df = as_parsed_records(training_frame(spark, records)).coalesce(1)
        chunk_df.write.parquet(str(tmp_path / "in" / f"{index:04d}"))
    stream_df = (spark.readStream.schema(PARSED_RECORD_SCHEMA)
                 .option("maxFilesPerTrigger", 1).option("recursiveFileLookup", "true").parquet(str(tmp_path / "in")))
    featured_df = (stream_df.transform(with_event_time_watermark(CONFIG))
                   .transform(with_velocity_features(CONFIG, block_events=block_events)))
    name = f"features_{tmp_path.name}".replace("-", "_")
    query = (featured_df.writeStream.format("memory").queryName(name).outputMode("append")
             .option("checkpointLocation", str(tmp_path / "checkpoint")).trigger(availableNow=True).start())
    query.awaitTermination(600)
    assert query.exception() is None
    rows = spark.table(name).toPandas()
    return rows[~rows["is_label"]].set_index("transaction_id"), query.recentProgress


def chunks_with_labels(dataset: pd.DataFrame, batches: int) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """Event-time ordered chunks; the labels known during a chunk's span arrive with it."""
    labels = labels_after_delay(dataset, timedelta(days=7))
    ordered = dataset.sort_values("event_time", kind="stable")
    labeled_at = pd.to_datetime(labels["labeled_at_us"], unit="us", utc=True)
    previous_end, chunks = ordered["event_time"].min() - DAY, []
    for rows in np.array_split(np.arange(len(ordered)), batches):
        chunk = ordered.iloc[rows]
        end = chunk["event_time"].max()
        chunks.append((chunk, labels[(labeled_at > previous_end) & (labeled_at <= end)]))
        previous_end = end
    return chunks


def test_engine_matches_the_definitions(spark, dataset):
    features = compute_features(spark, dataset, labels_after_delay(dataset, timedelta(days=7)), CONFIG)
    rng = np.random.default_rng(0)
    for index in rng.choice(len(dataset), 300, replace=False):
        expected = oracle(dataset, dataset.iloc[index])
        actual = features.iloc[index]
        for name, value in expected.items():
            assert actual[name] == pytest.approx(value, abs=1e-9), (index, name)
    assert set(all_feature_names(CONFIG)) <= set(features.columns)
    assert not features["is_late"].any() and not features["is_duplicate"].any()


@pytest.mark.parametrize("block_events", [4096, 4], ids=["head-only", "hot-key-blocks"])
def test_micro_batches_give_exactly_the_one_pass_features(spark, dataset, tmp_path, block_events):
    """17 micro-batches over 45 days (keys evicted by the watermark between them); with 4-event
    blocks every key's history is sealed into blocks, as a hot key's is."""
    one_pass = compute_features(spark, dataset, labels_after_delay(dataset, timedelta(days=7)), CONFIG)
    streamed, _ = stream_features(spark, tmp_path, chunks_with_labels(dataset, 17), block_events)
    streamed = streamed.loc[dataset["transaction_id"]].set_index(dataset.index)
    names = [name for name in all_feature_names(CONFIG) if name not in ("amount", "during_weekend", "during_night",
                                                                        "is_late")]
    pd.testing.assert_frame_equal(streamed[names].astype(float), one_pass[names].astype(float))


def test_hot_key_blocks_give_the_same_features_when_late_payments_make_them_overlap(spark, dataset, tmp_path):
    """A tenth of the payments arrive up to 5 days late, many behind the watermark: sealed
    into blocks beside newer events, they make blocks overlap in time. Every key sealed into
    4-event blocks must give exactly what head-only state gives."""
    ordered = dataset.sort_values("event_time", kind="stable").reset_index(drop=True)
    rng = np.random.default_rng(3)
    arrival = ordered["event_time"] + pd.to_timedelta(
        np.where(rng.random(len(ordered)) < 0.1, rng.integers(1, 120, len(ordered)), 0), unit="h")
    bounds = pd.date_range(arrival.min(), arrival.max() + DAY, periods=18)
    no_labels = labels_after_delay(ordered.head(0), timedelta(days=7))
    chunks = [(ordered[(arrival >= a) & (arrival < b)], no_labels)
              for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    blocks, _ = stream_features(spark, tmp_path / "blocks", chunks, block_events=4)
    head_only, _ = stream_features(spark, tmp_path / "head", chunks, block_events=4096)
    assert head_only["is_late"].astype(int).sum() > 10
    names = [n for n in all_feature_names(CONFIG) if n not in ("amount", "during_weekend", "during_night")]
    pd.testing.assert_frame_equal(blocks.loc[head_only.index, names], head_only[names])


def test_a_resent_payment_is_a_duplicate_and_not_counted_twice(spark, dataset, tmp_path):
    first = dataset.sort_values("event_time").head(50)
    no_labels = labels_after_delay(first.head(0), timedelta(7))
    again = pd.concat([first.tail(1), first.tail(1)])
    other = first.tail(1).assign(transaction_id="other-1", amount=first.tail(1)["amount"] + 1)
    streamed, _ = stream_features(spark, tmp_path, [(first, no_labels), (again, no_labels), (other, no_labels)])
    original = first.tail(1)["transaction_id"].iloc[0]
    resent = streamed.loc[[original]]
    assert resent["duplicate_of"].tolist() == [None, "RESENT", "RESENT"]
    expected = oracle(pd.concat([first, other]), other.iloc[0])
    assert streamed.loc["other-1", "cust_count_1d"] == expected["cust_count_1d"]  # the resends counted once


def test_a_payment_behind_the_watermark_is_kept_computed_and_flagged_late(spark, dataset, tmp_path):
    ordered = dataset.sort_values("event_time")
    head, late = ordered.iloc[:-1], ordered.iloc[[0]].assign(transaction_id="late-1")
    no_labels = labels_after_delay(head.head(0), timedelta(7))
    streamed, progress = stream_features(spark, tmp_path, [(head, no_labels), (late, no_labels)])
    assert len(streamed) == len(dataset)
    assert int(streamed.loc["late-1", "is_late"]) == 1
    assert streamed.loc["late-1", "cust_count_1d"] >= 1 and not np.isnan(streamed.loc["late-1", "term_risk_30d"])
    dropped = [op["numRowsDroppedByWatermark"] for p in progress for op in p["stateOperators"]]
    assert dropped and not any(dropped)


def test_a_payment_behind_the_horizon_counts_only_the_events_inside_it(spark, dataset, tmp_path):
    """Events older than the watermark minus the longest window are out of every window: a very
    late payment sees only the events inside it (evicted or not yet)."""
    no_labels = labels_after_delay(dataset.head(0), timedelta(7))
    ordered = dataset.sort_values("event_time", kind="stable")
    chunks = [(ordered.iloc[rows], no_labels) for rows in np.array_split(np.arange(len(ordered)), 12)]
    watermark = ordered["event_time"].max() - pd.Timedelta(hours=CONFIG.allowed_lateness_hours)
    horizon = watermark - pd.Timedelta(days=max(CONFIG.customer_windows_days))
    late_time = horizon + pd.Timedelta(days=10)
    late = ordered.iloc[[-1]].assign(transaction_id="late-2", event_time=late_time)
    streamed, _ = stream_features(spark, tmp_path, [*chunks, (late, no_labels)])
    mine = ordered[(ordered.customer_id == late.customer_id.iloc[0]) & (ordered.event_time >= horizon)]
    for days in CONFIG.customer_windows_days:
        inside = mine[(mine.event_time > late_time - days * DAY) & (mine.event_time <= late_time)]
        assert streamed.loc["late-2", f"cust_count_{days}d"] == len(inside) + 1, days
    assert int(streamed.loc["late-2", "is_late"]) == 1


def test_the_watermark_evicts_keys_no_window_can_reach(spark, dataset, tmp_path):
    """A key's state is deleted by its event-time timer once the watermark has passed its newest
    event by the longest window: the operators' timers fire, and a customer back after that
    counts only the new payment."""
    ordered = dataset.sort_values("event_time", kind="stable")
    no_labels = labels_after_delay(dataset.head(0), timedelta(7))
    early = ordered[ordered.event_time < ordered.event_time.min() + 5 * DAY]
    customer = early.customer_id.iloc[0]
    far = ordered.event_time.max() + pd.Timedelta(days=60)
    later = early.head(1).assign(transaction_id="far-1", customer_id="somebody-else", event_time=far)
    back = early[early.customer_id == customer].head(1).assign(transaction_id="back-1",
                                                                 event_time=far + pd.Timedelta(minutes=1))
    streamed, progress = stream_features(spark, tmp_path, [(early, no_labels), (later, no_labels),
                                                           (back, no_labels), (back.head(0), no_labels)])
    expired = sum(op["customMetrics"].get("numExpiredTimers", 0) for p in progress for op in p["stateOperators"])
    assert expired >= early.customer_id.nunique()
    assert streamed.loc["back-1", "cust_count_30d"] == 1 and streamed.loc["back-1", "term_count_30d"] == 0
