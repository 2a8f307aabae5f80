"""Start the payment scoring query (the production path, also driven by the tests)."""
from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from core.config import PROJECT_ROOT, AppConfig
from events.kafka_source import read_payment_records, recent_payment_records
from events.parse import parse_records
from events.schemas import KAFKA_RECORD_SCHEMA
from features.definitions import model_feature_names
from features.engine import FeatureState, apply_batch
from features.state_store import FeatureStateStore
from pipeline.driver_batch import DriverBatch, collect_batch, engine_labels, engine_payments
from pipeline.restarts import skipped_on_outage
from pipeline.scoring_batch import BatchScorer, make_batch_processor
from sinks.kafka_outbox import KafkaOutbox
from sinks.mysql_sink import MySqlBatchSink, register_insert_ignore_dialect
from udfs.model_artifact import ModelArtifact, load_artifact
from udfs.scoring import ship_model, warm_up_workers

QUERY_NAME = "score_payments"
log = logging.getLogger(__name__)


def trigger_settings(config: AppConfig, available_now: bool) -> dict:
    """Keyword arguments for DataStreamWriter.trigger: a fixed interval, or drain-and-stop."""
    if available_now:
        return {"availableNow": True}
    return {"processingTime": config.stream.trigger_interval}


def feature_state_folder(config: AppConfig) -> Path:
    """Feature state snapshots live beside the checkpoint they belong to."""
    return config.stream.checkpoint_location / "feature_state"


def load_scoring_model(config: AppConfig) -> ModelArtifact:
    """The configured model, checked against the features this configuration computes."""
    return load_artifact(config.model.artifact_dir(), model_feature_names(config.features))


SAMPLE_LABEL = (b'{"transaction_id": "warm-up-1", "customer_id": "c", "terminal_id": "t", '
                b'"event_time": "2024-01-01T00:00:00Z", "is_fraud": true, "labeled_at": "2024-01-08T00:00:00Z"}')


def warm_up(spark: SparkSession, config: AppConfig, model: ModelArtifact) -> None:
    """Start the Python workers, load the model in them, compile the parsers and rehearse the
    read, scoring and JDBC append, before the first micro-batch (which otherwise pays for all
    of it). With Kafka or MySQL unreachable the rehearsals are skipped: the query's restart
    policy waits the outage out."""
    started = time.monotonic()
    ship_model(spark, model.folder)
    warm_up_workers(spark, model.folder, model.feature_names)
    synthetic = warm_up_parsers(spark, config.kafka.topics)
    recent = skipped_on_outage(lambda: warm_up_kafka_read(spark, config), "warm-up read of Kafka", log)
    skipped_on_outage(lambda: rehearse_scoring(spark, config, model, recent or synthetic),
                      "warm-up rehearsal of the JDBC append", log)
    log.info("Python workers started, model loaded, parsers compiled, %d recent Kafka records parsed, "
             "scoring and append rehearsed in %.1f s", recent.rows_in if recent else 0, time.monotonic() - started)


WARM_UP_PAYMENTS = 50_000


def warm_up_parsers(spark: SparkSession, topics) -> DriverBatch:
    """Parse the contract's samples and 50k synthetic payments before the first micro-batch, so
    Spark has generated the (large) validation code and the JVM has compiled its hot loops
    (measured: the first 200k-record batch's parse took 7.3 s, later ones 2.5 s)."""
    samples = sorted((PROJECT_ROOT / "contract" / "samples").glob("*/*.*"))
    records = [(None, path.read_bytes(), topics.payments, 0, index, datetime(2024, 1, 1))
               for index, path in enumerate(samples)]
    records.append((None, SAMPLE_LABEL, topics.labels, 0, 0, datetime(2024, 1, 1)))
    records_df = spark.createDataFrame(records, KAFKA_RECORD_SCHEMA).unionByName(
        synthetic_payment_records(spark, topics.payments, WARM_UP_PAYMENTS))
    batch = collect_batch(parsed_records(records_df, topics.labels))
    if batch.payments.num_rows < WARM_UP_PAYMENTS:
        raise RuntimeError(f"the parser rejected warm-up payments: {batch.rejected.num_rows} rejected")
    return batch


WARM_UP_KAFKA_RECORDS = 200_000


def warm_up_kafka_read(spark: SparkSession, config: AppConfig) -> DriverBatch | None:
    """Read and parse (read-only, nothing committed) up to 200k of the payments topic's latest
    records, so the JVM has compiled the Kafka consumer's path and the parse on real records
    too. Measured, 600k preloaded: the first 200k-record batch's read took 1.6-2.5x a later
    batch's without it, 1.2x with it. None for an empty topic."""
    records_df = recent_payment_records(spark, config.kafka, WARM_UP_KAFKA_RECORDS)
    if records_df is None:
        return None
    return collect_batch(parsed_records(records_df, config.kafka.topics.labels))


WARM_UP_APPENDED = 100_000


def rehearse_scoring(spark: SparkSession, config: AppConfig, model: ModelArtifact, batch: DriverBatch) -> None:
    """Features (from empty state), score, decision and JDBC append of up to 100k warm-up payments,
    through the job's own functions, into the warm-up table (sql/migrations/010): the JVM compiles
    the append's path before the first micro-batch instead of during it."""
    register_insert_ignore_dialect(spark)
    payments = batch.payments.slice(0, WARM_UP_APPENDED)
    rehearsal = DriverBatch(payments.num_rows, payments, batch.labels.slice(0, 0), batch.rejected.slice(0, 0))
    features, _ = apply_batch(FeatureState(), engine_payments(rehearsal.payments), engine_labels(rehearsal.labels),
                              config.features, 0)
    sink = MySqlBatchSink(config.mysql, config.kafka.topics.payments)
    try:
        BatchScorer(spark, config, model, sink).rehearse(rehearsal, features)
    finally:
        sink.connection.close()  # the rehearsal's only; the query's sink keeps its own


def synthetic_payment_records(spark: SparkSession, topic: str, count: int):
    """Kafka-shaped records of valid payment JSON, built in the JVM (warm-up data only)."""
    payment = F.struct(
        F.concat(F.lit("warm-up-"), F.col("id")).alias("transaction_id"),
        F.concat(F.lit("c"), F.col("id") % 1000).alias("customer_id"),
        F.concat(F.lit("t"), F.col("id") % 2000).alias("terminal_id"),
        (F.col("id") % 10000 / 100 + 1).cast("decimal(9,2)").alias("amount"),
        F.lit("EUR").alias("currency"),
        F.lit("2024-01-01T00:00:00Z").alias("event_time"))
    return spark.range(count).select(
        F.lit(None).cast("binary").alias("key"), F.to_json(payment).cast("binary").alias("value"),
        F.lit(topic).alias("topic"), F.lit(0).alias("partition"), F.col("id").alias("offset"),
        F.lit(datetime(2024, 1, 1)).alias("timestamp"))


def parsed_records(records_df: DataFrame, labels_topic: str) -> DataFrame:
    """Every record parsed (events.parse): records of the labels topic as fraud labels. One
    task per core reads them (a task per Kafka partition of both topics costs more to start
    than it reads in a small micro-batch)."""
    cores = records_df.sparkSession.sparkContext.defaultParallelism
    return parse_records(records_df.coalesce(cores), F.col("topic") == labels_topic)


def start_scoring_query(spark: SparkSession, config: AppConfig, trigger: dict,
                        on_commit: Callable[[dict], None] | None = None,
                        model: ModelArtifact | None = None) -> StreamingQuery:
    """Kafka payments and labels -> validate -> features -> MySQL (exactly-once), checkpointed.
    The parse is part of the streaming plan, so Spark analyses it once, not per micro-batch."""
    model = model or load_scoring_model(config)
    register_insert_ignore_dialect(spark)
    parsed_df = parsed_records(read_payment_records(spark, config.kafka, config.stream), config.kafka.topics.labels)
    write_batch = make_batch_processor(
        spark, config, model, MySqlBatchSink(config.mysql, config.kafka.topics.payments),
        FeatureStateStore(feature_state_folder(config), config.features), KafkaOutbox(config.kafka, config.mysql),
        on_commit)
    return (
        parsed_df.writeStream
        .queryName(QUERY_NAME)
        .foreachBatch(write_batch)
        .option("checkpointLocation", str(config.stream.checkpoint_location))
        .trigger(**trigger)
        .start()
    )


def with_stream_overrides(config: AppConfig, checkpoint: str | None = None,
                          starting_offsets: str | None = None,
                          max_offsets_per_trigger: int | None = None,
                          trigger_interval: str | None = None, payments_topic: str | None = None,
                          labels_topic: str | None = None) -> AppConfig:
    """The config with command-line stream options applied (None keeps the file's value)."""
    stream = config.stream
    topics = replace(config.kafka.topics, payments=payments_topic or config.kafka.topics.payments,
                     labels=labels_topic or config.kafka.topics.labels)
    config = replace(config, kafka=replace(config.kafka, topics=topics))
    changes = {
        "checkpoint_location": Path(checkpoint).resolve() if checkpoint else None,
        "starting_offsets": starting_offsets,
        "max_offsets_per_trigger": max_offsets_per_trigger,
        "trigger_interval": trigger_interval,
    }
    return replace(config, stream=replace(stream, **{k: v for k, v in changes.items() if v is not None}))
