"""Each stage of the scoring job alone, on a benchmark run's topics (run by bench.throughput
under spark-submit): the same functions as the job, over the same micro-batches, timed apart.

Stages: Kafka read + parse (+ collect to the driver), features (numpy engine), model scoring
(payments and features to Spark, model in the pandas UDF, decision rules; no sink), MySQL
write (JDBC append + the batch's transaction). The MySQL stage writes under its own stream id and transaction-id
prefix, then deletes its rows.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyarrow as pa  # noqa: E402
from pyspark.sql import DataFrame, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from core.config import AppConfig, load_config  # noqa: E402
from core.spark import build_spark_session  # noqa: E402
from decisions.rules import with_decision  # noqa: E402
from features.engine import FeatureState, apply_batch  # noqa: E402
from pipeline.batch_source import DriverBatchFrame  # noqa: E402
from pipeline.driver_batch import collect_batch, engine_labels, engine_payments, payments_table  # noqa: E402
from pipeline.scoring_batch import score_bands, scored_feature_names, scoring_input_schema, with_score  # noqa: E402
from pipeline.scoring_query import load_scoring_model, parsed_records, with_stream_overrides  # noqa: E402
from sinks.mysql_connection import connect  # noqa: E402
from sinks.mysql_sink import (BatchKey, MySqlBatchSink, latency_percentiles, register_insert_ignore_dialect,  # noqa: E402
                              utc_now)

STAGES = ("read_parse", "features", "scoring", "mysql_write")


def topic_ends(spark: SparkSession, config: AppConfig, topic: str) -> dict[int, int]:
    """Each partition's end offset (records are read from offset 0)."""
    frame = (spark.read.format("kafka").option("kafka.bootstrap.servers", config.kafka.bootstrap_servers)
             .option("subscribe", topic).load().groupBy("partition").agg(F.max("offset").alias("last")))
    return {row["partition"]: row["last"] + 1 for row in frame.collect()}


def slice_bounds(ends: dict[int, int], batches: int, index: int) -> tuple[dict, dict]:
    """The index-th of `batches` equal offset slices of every partition."""
    start = {p: end * index // batches for p, end in ends.items()}
    stop = {p: end * (index + 1) // batches for p, end in ends.items()}
    return start, stop


def read_slice(spark: SparkSession, config: AppConfig, ranges: dict[str, tuple[dict, dict]]) -> DataFrame:
    """Kafka records of both topics within the given offset ranges, as the job's source gives them."""
    start = {topic: {str(p): o for p, o in bounds[0].items()} for topic, bounds in ranges.items()}
    stop = {topic: {str(p): o for p, o in bounds[1].items()} for topic, bounds in ranges.items()}
    return (spark.read.format("kafka")
            .options(**{f"kafka.{name}": value for name, value in config.kafka.consumer})
            .option("kafka.bootstrap.servers", config.kafka.bootstrap_servers)
            .option("subscribe", ",".join(ranges)).option("startingOffsets", json.dumps(start))
            .option("endingOffsets", json.dumps(stop)).load()
            .select("key", "value", "topic", "partition", "offset", "timestamp"))


class Timer:
    def __init__(self):
        self.seconds = {stage: 0.0 for stage in STAGES}

    def timed(self, stage: str, work):
        started = time.monotonic()
        result = work()
        self.seconds[stage] += time.monotonic() - started
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--payments-topic", required=True)
    parser.add_argument("--labels-topic", required=True)
    parser.add_argument("--batch-rows", type=int, required=True, help="records per micro-batch, as the job ran")
    parser.add_argument("--out", required=True, help="JSON file for the figures")
    args = parser.parse_args()
    config = with_stream_overrides(load_config(), payments_topic=args.payments_topic, labels_topic=args.labels_topic)
    spark = build_spark_session(config, "bench-stages", {"spark.ui.enabled": "false"})
    spark.sparkContext.setLogLevel("WARN")
    figures = run_stages(spark, config, args.batch_rows)
    Path(args.out).write_text(json.dumps(figures, indent=2))
    return 0


def run_stages(spark: SparkSession, config: AppConfig, batch_rows: int) -> dict:
    topics = config.kafka.topics
    ends = {topics.payments: topic_ends(spark, config, topics.payments),
            topics.labels: topic_ends(spark, config, topics.labels)}
    records = sum(sum(e.values()) for e in ends.values())
    batches = max(1, -(-records // batch_rows))
    model = load_scoring_model(config)
    register_insert_ignore_dialect(spark)
    names = scored_feature_names(config)
    batch_frame = DriverBatchFrame(spark, scoring_input_schema(names))
    scored_plan = (batch_frame.frame.transform(with_score(model))
                   .transform(with_decision(config.decisions.rules, score_bands(config, model))))
    sink = MySqlBatchSink(config.mysql, topics.payments)
    stream_id = f"bench-stages-{int(time.time())}"
    timer, state, payments_total = Timer(), FeatureState(), 0
    for index in range(batches):
        ranges = {topic: slice_bounds(e, batches, index) for topic, e in ends.items()}
        parsed_df = parsed_records(read_slice(spark, config, ranges), topics.labels)
        batch = timer.timed("read_parse", lambda: collect_batch(parsed_df))
        payments, labels = engine_payments(batch.payments), engine_labels(batch.labels)
        features, state = timer.timed("features", lambda: apply_batch(state, payments, labels,
                                                                      config.features, index))
        written = ~features["is_duplicate"].to_numpy(dtype=bool)
        key = BatchKey(stream_id, index)
        table = timer.timed("scoring", lambda: payments_table(
            batch.payments.filter(pa.array(written)), features[written], names, key.params()))
        scored_df = timer.timed("scoring", lambda: scored_rows(batch_frame, scored_plan, table))
        renamed_df = scored_df.withColumn("transaction_id", F.concat(F.lit("s-"), "transaction_id"))
        timer.timed("mysql_write", lambda: write_and_commit(sink, key, renamed_df, batch, written, state))
        payments_total += batch.payments.num_rows
        scored_df.unpersist()
    delete_stage_rows(config, stream_id)
    return {"records": records, "payments": payments_total, "micro_batches": batches,
            "seconds": {s: round(v, 2) for s, v in timer.seconds.items()},
            "rows_per_second": {s: round(records / v) if v else None for s, v in timer.seconds.items()}}


def scored_rows(batch_frame: DriverBatchFrame, scored_plan: DataFrame, table) -> DataFrame:
    """The batch scored as the job scores it (one plan, this batch's rows), kept in memory."""
    with batch_frame.loaded(table):
        scored_df = scored_plan.persist()
        scored_df.count()
    return scored_df


def write_and_commit(sink: MySqlBatchSink, key: BatchKey, scored_df: DataFrame, batch, written, state) -> None:
    """The sink's two steps, as the job runs them: JDBC append, then the batch's transaction."""
    sink.append_scored(scored_df)
    sink.commit(key, batch, written, {"rows_in": batch.rows_in, "late_rows": 0, "state_events": state.size,
                                      "started_at": utc_now(), "model_version": None, **latency_percentiles(None)})


def delete_stage_rows(config: AppConfig, stream_id: str) -> None:
    """Rows the MySQL stage wrote under its own stream id (the app user may DELETE)."""
    with connect(config.mysql, autocommit=True) as connection, connection.cursor() as cursor:
        for table in ("payment_alerts", "scored_transactions", "rejected_payments", "fraud_labels",
                      "stream_batches"):
            cursor.execute(f"DELETE FROM {table} WHERE stream_id = %(stream_id)s", {"stream_id": stream_id})


if __name__ == "__main__":
    sys.exit(main())
