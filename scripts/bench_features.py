"""Feature-stage benchmark: the streaming path's feature step over micro-batches, exact.

Per micro-batch, as in the job: Spark frame of valid payments -> the driver (Arrow) ->
numpy engine (state carried) -> the features as Arrow columns of the payments (sent back to Spark).
Default: 1,000,000 payments, 5,000 customers, 20 micro-batches.   make bench-features
"""
from __future__ import annotations

import argparse
from decimal import Decimal
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from core.config import load_config  # noqa: E402
from core.spark import build_spark_session  # noqa: E402
from events.schemas import PAYMENT_SCHEMA  # noqa: E402
from features.batch import labels_after_delay  # noqa: E402
from features.engine import FeatureState, apply_batch  # noqa: E402
from generator.simulator import SimulationParams, generate  # noqa: E402
from pipeline.driver_batch import engine_payments, with_feature_columns  # noqa: E402
from pipeline.scoring_batch import scored_feature_names  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    config = load_config()
    spark = build_spark_session(config, "bench-features", {"spark.ui.enabled": "false"})
    spark.sparkContext.setLogLevel("WARN")
    dataset, _ = generate(SimulationParams(n_days=110))
    dataset = dataset.sort_values("event_time").head(args.rows).reset_index(drop=True)
    labels = labels_after_delay(dataset, timedelta(days=config.features.label_delay_days))
    batches = np.array_split(np.arange(len(dataset)), args.batches)
    frame = pd.DataFrame({
        "transaction_id": dataset["transaction_id"], "customer_id": dataset["customer_id"],
        "terminal_id": dataset["terminal_id"], "amount": [Decimal(f"{a:.2f}") for a in dataset["amount"]],
        "currency": "EUR", "event_time": dataset["event_time"].dt.tz_localize(None),
        "kafka_partition": 0, "kafka_offset": np.arange(len(dataset)), "kafka_timestamp": dataset["event_time"].dt.tz_localize(None),
    })
    batch_frames = []  # each micro-batch persisted on its own, as the job persists its batch
    for rows in batches:
        batch_df = spark.createDataFrame(frame.iloc[rows], PAYMENT_SCHEMA).persist()
        batch_df.count()
        batch_frames.append(batch_df)
    names = scored_feature_names(config)
    labeled_at = labels["labeled_at_us"].to_numpy()
    event_us = dataset["event_time"].astype("int64").to_numpy() // 1000
    state, timings, previous_end = FeatureState(), [], -2 ** 62
    for index, rows in enumerate(batches):
        end = event_us[rows[-1]]
        batch_labels = labels[(labeled_at > previous_end) & (labeled_at <= end)]
        previous_end = end
        t0 = time.monotonic()
        batch_df = batch_frames[index]
        arrow = batch_df.toArrow()
        payments = engine_payments(arrow)
        t1 = time.monotonic()
        features, state = apply_batch(state, payments, batch_labels, config.features, index)
        t2 = time.monotonic()
        with_feature_columns(arrow, features, names)
        t3 = time.monotonic()
        timings.append((t1 - t0, t2 - t1, t3 - t2))
    to_pandas, engine, back = (sum(t[i] for t in timings) for i in range(3))
    total = to_pandas + engine + back
    print(f"feature stage: {len(dataset) / total:,.0f} rows/s exact ({len(dataset):,} payments, "
          f"{args.batches} micro-batches, {dataset['customer_id'].nunique():,} customers)")
    print(f"  to the driver (Arrow) {to_pandas:.1f} s | engine {engine:.1f} s ({len(dataset) / engine:,.0f} rows/s) "
          f"| features as Arrow columns {back:.1f} s | median batch {np.median([sum(t) for t in timings]):.2f} s "
          f"| state {state.size:,} events")
    engine_ms = np.array([t[1] for t in timings]) * 1000
    late = engine_ms[len(engine_ms) * 3 // 4:]
    print(f"  engine per micro-batch: median {np.median(engine_ms):.1f} ms; last quarter of the batches "
          f"(largest state) median {np.median(late):.1f} ms, max {late.max():.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
