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
    micro-batch per (payments, labels) chunk; the payments' output rows, and the query's progress."""
    rows, progress = stream_rows(spark, tmp_path, chunks, block_events)
    return rows[~rows["is_label"]].set_index("transaction_id"), progress


def stream_rows(spark, tmp_path, chunks: list[tuple[pd.DataFrame, pd.DataFrame]], block_events: int = 4096):
    """As stream_features, with every output row (labels too), in no particular order."""
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
    return spark.table(name).toPandas(), query.recentProgress


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
    # A customer's payments are kept for its longest window, or as long as a label of one can move
    # terminal risk (it is checked against them), whichever is longer.
    retention = max(max(CONFIG.customer_windows_days), CONFIG.label_delay_days + max(CONFIG.terminal_windows_days))
    horizon = watermark - pd.Timedelta(days=retention)
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


def label_rows(*labels: tuple) -> pd.DataFrame:
    """Labels as the producer sends them: (payment row, is_fraud, labeled_at[, transaction_id, event_time])."""
    out = []
    for payment, is_fraud, labeled_at, *other in labels:
        transaction_id, event_time = (other + [payment.transaction_id, payment.event_time][len(other):])[:2]
        out.append({"transaction_id": transaction_id, "customer_id": payment.customer_id,
                    "terminal_id": payment.terminal_id, "event_us": int(event_time.value // 1000),
                    "is_fraud": is_fraud, "labeled_at_us": int(labeled_at.value // 1000)})
    return pd.DataFrame(out)


def no_fraud_history(dataset: pd.DataFrame):
    """Ten days of payments with no fraud, a payment of it, and a payment at its terminal one
    label delay later (its terminal windows hold the first)."""
    ordered = dataset.sort_values("event_time", kind="stable").assign(is_fraud=0)
    first = ordered[ordered.event_time < ordered.event_time.min() + 10 * DAY]
    target = first.iloc[len(first) // 2]
    later = first.head(1).assign(transaction_id="later-1", customer_id="later-customer",
                                 terminal_id=target.terminal_id,
                                 event_time=target.event_time + pd.Timedelta(days=CONFIG.label_delay_days) + DAY)
    return first, target, later


def test_a_label_for_no_scored_payment_is_rejected_and_moves_no_terminal_risk(spark, dataset, tmp_path):
    first, target, later = no_fraud_history(dataset)
    labeled_at = target.event_time + DAY
    unknown = label_rows((target, True, labeled_at, "never-scored-1"),  # an id the job never scored
                         (target, True, labeled_at, target.transaction_id, target.event_time + pd.Timedelta(seconds=1)))
    no_labels = labels_after_delay(first.head(0), timedelta(7))
    rows, _ = stream_rows(spark, tmp_path, [(first, no_labels), (first.head(0), unknown), (later, no_labels)])
    labels = rows[rows["is_label"]].sort_values("transaction_id")
    assert labels["reason_code"].tolist() == ["LABEL_UNKNOWN_TRANSACTION"] * 2
    assert "no payment with this id was scored for customer" in labels["reason_message"].iloc[0]
    assert "event_time differs" in labels["reason_message"].iloc[1]
    after = rows.set_index("transaction_id").loc["later-1"]
    assert after["term_count_7d"] > 0 and after["term_risk_7d"] == 0.0


def test_a_corrected_label_ends_not_fraud_in_the_stream_and_in_training(spark, dataset, tmp_path):
    """Fraud, then not fraud (a reversed chargeback): the latest label wins in both paths; the
    fraud label alone would count."""
    first, target, later = no_fraud_history(dataset)
    fraud = label_rows((target, True, target.event_time + DAY))
    correction = label_rows((target, False, target.event_time + 2 * DAY))
    no_labels = labels_after_delay(first.head(0), timedelta(7))
    streamed, _ = stream_features(spark, tmp_path, [(first, no_labels), (first.head(0), fraud),
                                                    (first.head(0), correction), (later, no_labels)])
    assert streamed.loc["later-1", "term_count_7d"] > 0 and streamed.loc["later-1", "term_risk_7d"] == 0.0
    both = pd.concat([first, later])
    trained = compute_features(spark, both, pd.concat([fraud, correction]), CONFIG).set_index(both["transaction_id"])
    assert trained.loc["later-1", "term_risk_7d"] == 0.0
    fraud_only = compute_features(spark, both, fraud, CONFIG).set_index(both["transaction_id"])
    assert fraud_only.loc["later-1", "term_risk_7d"] > 0.0


def test_amount_features_add_payments_of_different_currencies_in_the_base_currency(spark):
    """EUR 100, USD 100 (83.38 EUR in 2018) and JPY 15,000 (111.04 EUR) within an hour: the
    customer's hourly sum and 1-day mean are in EUR, not 100 + 100 + 15,000."""
    import json
    from datetime import datetime

    from events.parse import parse_records
    from events.schemas import KAFKA_RECORD_SCHEMA

    sent = [("EUR", 100, "00:00"), ("USD", 100, "00:10"), ("JPY", 15000, "00:20")]
    values = [json.dumps({"transaction_id": f"fx-{i}", "customer_id": "C-fx", "terminal_id": "T-fx", "amount": amount,
                          "currency": currency, "event_time": f"2018-04-01T{at}:00Z"}).encode()
              for i, (currency, amount, at) in enumerate(sent)]
    records_df = spark.createDataFrame([(None, value, "payments", 0, i, datetime(2018, 4, 1, 1))
                                        for i, value in enumerate(values)], KAFKA_RECORD_SCHEMA)
    featured = (parse_records(records_df).transform(with_velocity_features(CONFIG, streaming=False))
                .select("transaction_id", "cust_sum_amount_1h", "cust_mean_amount_1d").toPandas()
                .set_index("transaction_id"))
    assert featured.loc["fx-2", "cust_sum_amount_1h"] == pytest.approx(100 + 83.38 + 111.04)
    assert featured.loc["fx-2", "cust_mean_amount_1d"] == pytest.approx((100 + 83.38 + 111.04) / 3)
