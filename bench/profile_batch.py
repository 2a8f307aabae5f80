"""Where a micro-batch's time goes, step by step, on a benchmark run's topics (after
make bench-throughput): the job's own functions, each timed alone, several rounds (the
first round includes JVM and Python warm-up).
     scripts/spark-submit bench/profile_batch.py --run benchtput<...> [--batch-rows 200000]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyspark.sql import functions as F  # noqa: E402

from bench.stages import read_slice, slice_bounds, topic_ends  # noqa: E402
from core.config import load_config  # noqa: E402
from core.spark import build_spark_session  # noqa: E402
from decisions.rules import with_decision  # noqa: E402
from events.parse import checked_payments, split_labels, split_payments  # noqa: E402
from features.engine import FeatureState, apply_batch  # noqa: E402
from pipeline.scoring_batch import (score_bands, scored_feature_names, with_engine_label_columns,  # noqa: E402
                                    with_engine_payment_columns, with_features, with_score)
from pipeline.scoring_query import load_scoring_model, with_stream_overrides  # noqa: E402
from sinks.mysql_connection import connect  # noqa: E402
from sinks.mysql_sink import jdbc_append  # noqa: E402


def noop(frame) -> None:
    frame.write.format("noop").mode("overwrite").save()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="a bench run name (its topics are payments-<run>, labels-<run>)")
    parser.add_argument("--batch-rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    config = with_stream_overrides(load_config(), payments_topic=f"payments-{args.run}",
                                   labels_topic=f"labels-{args.run}")
    spark = build_spark_session(config, "profile-batch", {"spark.ui.enabled": "false"})
    spark.sparkContext.setLogLevel("WARN")
    topics = config.kafka.topics
    ends = {t: topic_ends(spark, config, t) for t in (topics.payments, topics.labels)}
    slices = max(1, sum(sum(e.values()) for e in ends.values()) // args.batch_rows)
    model, names = load_scoring_model(config), scored_feature_names(config)
    score, decide = with_score(model), with_decision(config.decisions.rules, score_bands(config, model))
    for index in range(min(args.rounds, slices)):
        print(f"round {index} ({args.batch_rows:,} records):")
        profile_round(spark, config, {t: slice_bounds(e, slices, index) for t, e in ends.items()},
                      names, score, decide, index)
    return 0


def profile_round(spark, config, ranges, names, score, decide, index) -> None:
    topics = config.kafka.topics
    timings = {}

    def timed(step, work):
        started = time.monotonic()
        result = work()
        timings[step] = time.monotonic() - started
        return result

    records_df = read_slice(spark, config, ranges).persist()
    timed("kafka fetch (cache)", records_df.count)
    payment_records_df = records_df.where(F.col("topic") == topics.payments)
    checked_df = checked_payments(payment_records_df).persist()
    timed("parse + validate payments", checked_df.count)
    payments_df, _ = split_payments(payment_records_df, checked_df)
    payments = timed("payments to the driver (Arrow)", lambda: with_engine_payment_columns(payments_df).toPandas())
    labels_df, _ = split_labels(records_df.where(F.col("topic") == topics.labels))
    labels = timed("labels parse + to the driver", lambda: with_engine_label_columns(labels_df).toPandas())
    features, _ = timed("feature engine", lambda: apply_batch(FeatureState(), payments, labels, config.features, 0))
    scored_df, broadcast = with_features(spark, payments_df, payments, features, names)
    timed("attach features (mapInArrow)", lambda: noop(scored_df))
    timed("attach + model UDF", lambda: noop(scored_df.transform(score)))
    final_df = scored_df.transform(score).transform(decide).persist()
    timed("attach + model UDF + rules (persisted)", final_df.count)
    stream_id = f"profile-{int(time.time())}"
    timed("JDBC append to staging", lambda: jdbc_append(
        final_df.select(F.lit(stream_id).alias("stream_id"), F.lit(index).cast("long").alias("batch_id"), "*"),
        config.mysql, "scored_transactions_staging"))
    with connect(config.mysql, autocommit=True) as connection, connection.cursor() as cursor:
        timed("DELETE staged rows", lambda: cursor.execute(
            "DELETE FROM scored_transactions_staging WHERE stream_id = %s", (stream_id,)))
    for step, seconds in timings.items():
        print(f"  {step:<40} {seconds:6.2f} s")
    for frame in (final_df, checked_df, records_df):
        frame.unpersist()
    broadcast.destroy()


if __name__ == "__main__":
    sys.exit(main())
