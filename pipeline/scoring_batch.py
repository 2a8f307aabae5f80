"""What the scoring query does with each micro-batch (its foreachBatch function).

Kafka records -> valid payments / labels / rejected -> features (numpy engine, state
restored for this batch) -> staged tables -> one MySQL commit -> state snapshot.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
import time
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from core.config import AppConfig
from events.parse import checked_payments, split_labels, split_payments
from events.schemas import feature_field
from features.definitions import all_feature_names
from features.engine import apply_batch
from features.state_store import FeatureStateStore
from decisions.rules import ScoreBands, compile_rules, with_decision
from events.schemas import PAYMENT_SCHEMA
from sinks.kafka_outbox import KafkaOutbox
from sinks.mysql_sink import (BatchKey, CommitResult, MySqlBatchSink, current_stream_id,
                              latency_percentiles, utc_now)
from udfs.model_artifact import ModelArtifact
from udfs.scoring import score_column

log = logging.getLogger(__name__)


def with_engine_payment_columns(payments_df: DataFrame) -> DataFrame:
    """Valid payments as the engine reads them: exact cents, UTC microseconds, row key."""
    return payments_df.select(
        "transaction_id", "customer_id", "terminal_id",
        (F.col("amount") * 100).cast("long").alias("amount_cents"),
        F.unix_micros("event_time").alias("event_us"),
        "kafka_partition", "kafka_offset",
        F.unix_micros("kafka_timestamp").alias("sent_at_us"),
    )


def with_engine_label_columns(labels_df: DataFrame) -> DataFrame:
    return labels_df.select(
        "transaction_id", "terminal_id", F.unix_micros("event_time").alias("event_us"), "is_fraud",
        F.unix_micros("labeled_at").alias("labeled_at_us"))


def scored_feature_names(config: AppConfig) -> list[str]:
    """Feature columns stored with each payment (`amount` is the payment's own column)."""
    return [name for name in all_feature_names(config.features) if name != "amount"]


NUMPY_TYPE = {T.LongType: np.int64, T.IntegerType: np.int32, T.DoubleType: np.float64}
ROW_KEY_SHIFT = 40  # row key = kafka_partition << 40 | kafka_offset (offsets stay far below 2**40)


def row_keys(partitions: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    return (partitions.astype(np.int64) << ROW_KEY_SHIFT) | offsets.astype(np.int64)


def features_by_row_key(payments: pd.DataFrame, features: pd.DataFrame, feature_names: list[str]) -> dict:
    """The payments' features as arrays sorted by row key. A resent payment (duplicate) gets
    zeros: its row only reaches MySQL's conflict check (same id, other content -> rejected)."""
    keys = row_keys(payments["kafka_partition"].to_numpy(), payments["kafka_offset"].to_numpy())
    order = np.argsort(keys)
    table = {"_key": keys[order]}
    for name in feature_names:
        values = features[name].fillna(0).to_numpy()[order]
        table[name] = values.astype(NUMPY_TYPE[type(feature_field(name).dataType)])
    return table


def attach_features(table_broadcast, feature_names: list[str]):
    """mapInArrow function: add each row's features (looked up by row key); drop rows without."""
    def attach(batches):
        table = table_broadcast.value
        keys = table["_key"]
        for batch in batches:
            wanted = row_keys(batch.column("kafka_partition").to_numpy(), batch.column("kafka_offset").to_numpy())
            position = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
            found = keys[position] == wanted if len(keys) else np.zeros(len(wanted), dtype=bool)
            rows = batch.filter(pa.array(found))
            position = position[found]
            columns = [rows.column(i) for i in range(rows.num_columns)]
            columns += [pa.array(table[name][position]) for name in feature_names]
            yield pa.RecordBatch.from_arrays(columns, names=[*rows.schema.names, *feature_names])
    return attach


def with_features(spark: SparkSession, payments_df: DataFrame, payments: pd.DataFrame,
                  features: pd.DataFrame, feature_names: list[str]):
    """The batch's new payments with their features, and the broadcast to release after use.

    Only numbers travel back from the driver: the features, keyed by Kafka partition/offset,
    in a broadcast variable that each Python worker reads once; `mapInArrow` attaches them
    to the payment rows Spark still holds (measured faster than a broadcast join).
    """
    table = spark.sparkContext.broadcast(features_by_row_key(payments, features, feature_names))
    schema = T.StructType([*payments_df.schema.fields, *[feature_field(name) for name in feature_names]])
    scored_df = payments_df.mapInArrow(attach_features(table, feature_names), schema)
    return scored_df, table


def with_score(model: ModelArtifact):
    """Transform: add the model's score (pandas UDF) and the model version."""
    def transform(scored_df: DataFrame) -> DataFrame:
        return (scored_df
                .withColumn("score", score_column(model.folder, model.feature_names))
                .withColumn("model_version", F.lit(model.version)))
    return transform


def score_bands(config: AppConfig, model: ModelArtifact) -> ScoreBands:
    """conf/ thresholds where set, else the ones chosen at training (model metadata)."""
    trained = model.metadata.get("thresholds", {})
    review = config.decisions.review_threshold
    decline = config.decisions.decline_threshold
    return ScoreBands(review=review if review is not None else float(trained.get("review", 0.5)),
                      decline=decline if decline is not None else float(trained.get("decline", 0.9)))


def scored_schema(feature_names: list[str]) -> T.StructType:
    """Columns a decision rule can use: the payment, its features, score and model_version."""
    return T.StructType([*PAYMENT_SCHEMA.fields, *[feature_field(n) for n in feature_names],
                         T.StructField("score", T.DoubleType(), True),
                         T.StructField("model_version", T.StringType(), True)])


class StageClock:
    """Seconds spent in each stage of a micro-batch, for the batch log line."""

    def __init__(self):
        self.last = time.monotonic()
        self.seconds: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.monotonic()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self.last
        self.last = now

    def add(self, seconds: dict[str, float]) -> None:
        """Stages timed elsewhere (the sink's); the next lap starts now."""
        self.seconds.update(seconds)
        self.last = time.monotonic()

    def describe(self) -> str:
        return " ".join(f"{stage} {seconds:.2f}" for stage, seconds in self.seconds.items())


@dataclass
class BatchParts:
    """A micro-batch split by topic and validity; the payments and labels also on the driver."""

    rows_in: int
    checked_df: DataFrame
    payments_df: DataFrame
    rejected_df: DataFrame
    labels_df: DataFrame
    payments: pd.DataFrame
    labels: pd.DataFrame


def read_batch(records_df: DataFrame, topics, clock: StageClock | None = None) -> BatchParts:
    """Split the (persisted) Kafka records, parsing payments once (persisted); collect what
    the feature engine needs. The clock, if given, times Kafka, parse and labels apart."""
    lap = clock.lap if clock is not None else (lambda stage: None)
    rows_in = records_df.count()
    lap("read:kafka")
    payment_records_df = records_df.where(F.col("topic") == topics.payments)
    checked_df = checked_payments(payment_records_df).persist()
    payments_df, rejected_payments_df = split_payments(payment_records_df, checked_df)
    payments = with_engine_payment_columns(payments_df).toPandas()
    lap("read:parse")
    labels_df, rejected_labels_df = split_labels(records_df.where(F.col("topic") == topics.labels))
    labels = with_engine_label_columns(labels_df).toPandas()
    lap("read:labels")
    return BatchParts(rows_in=rows_in, checked_df=checked_df, payments_df=payments_df,
                      rejected_df=rejected_payments_df.unionByName(rejected_labels_df), labels_df=labels_df,
                      payments=payments, labels=labels)


def tables_to_write(parts: BatchParts, scored_df: DataFrame) -> dict[str, DataFrame]:
    """The frames the sink writes. Rejected records and labels are few: one JDBC task each,
    and none when the driver's counts show the frame is empty (each write is a Spark job)."""
    tables = {"scored_transactions": scored_df}
    if parts.rows_in > len(parts.payments) + len(parts.labels):
        tables["rejected_payments"] = parts.rejected_df.coalesce(1)
    if len(parts.labels):
        tables["fraud_labels"] = parts.labels_df.coalesce(1)
    return tables


def batch_summary(batch_id: int, rows_in: int, skipped: bool, result: CommitResult, published: dict,
                  state, seconds: float, clock: StageClock) -> dict:
    """The figures of the per-batch log line (and of the on_commit callback)."""
    moved = result.moved
    return {"batch_id": batch_id, "rows_in": rows_in, "skipped": skipped,
            "scored": moved.get("scored_transactions", 0),
            "rejected": moved.get("rejected_payments", 0) + moved.get("conflicts", 0),
            "alerts": moved.get("alerts", 0), "published": published, "labels": moved.get("fraud_labels", 0),
            "seconds": seconds, "rate": rows_in / seconds if seconds else 0.0, "state_events": state.size,
            "stages": clock.describe(), **result.latency}


def make_batch_processor(spark: SparkSession, config: AppConfig, model: ModelArtifact, sink: MySqlBatchSink,
                         store: FeatureStateStore, outbox: KafkaOutbox,
                         on_commit: Callable[[dict], None] | None = None
                         ) -> Callable[[DataFrame, int], None]:
    """The foreachBatch function of the scoring query. Refuses to start with a decision
    rule that does not compile."""
    feature_names = scored_feature_names(config)
    compile_rules(spark, config.decisions.rules, scored_schema(feature_names))
    decide = with_decision(config.decisions.rules, score_bands(config, model))
    score = with_score(model)

    def write(key: BatchKey, parts: BatchParts, features: pd.DataFrame, state, started_at) -> tuple:
        scored_df, broadcast = with_features(parts.payments_df.sparkSession, parts.payments_df, parts.payments, features,
                                             feature_names)
        try:
            return sink.write(key, tables_to_write(parts, scored_df.transform(score).transform(decide)), ledger={"rows_in": parts.rows_in, "labels_in": len(parts.labels),
                       "valid_payments": len(parts.payments),
                       "late_rows": int(features["is_late"].eq(True).sum()),
                       "state_events": state.size, "started_at": started_at},
                sent_at_us=parts.payments["sent_at_us"].to_numpy())
        finally:
            broadcast.destroy()

    def process_batch(batch_df: DataFrame, batch_id: int) -> None:
        started, started_at, clock = time.monotonic(), utc_now(), StageClock()
        key = BatchKey(current_stream_id(batch_df.sparkSession), batch_id)
        committed = sink.is_committed(key)
        records_df = batch_df.persist()
        parts = None
        try:
            parts = read_batch(records_df, config.kafka.topics, clock)
            features, state = apply_batch(store.state_before(batch_id), parts.payments, parts.labels,
                                          config.features, batch_id)
            clock.lap("features")
            result = CommitResult({}, latency_percentiles(None), {})
            if committed:
                log.info("batch %d was already committed; state advanced, nothing written", batch_id)
            else:
                result = write(key, parts, features, state, started_at)
                clock.add(result.seconds)
            published = outbox.publish(key)
            clock.lap("publish")
            store.save(state)
            clock.lap("snapshot")
        finally:
            records_df.unpersist()
            if parts is not None:
                parts.checked_df.unpersist()
        summary = batch_summary(batch_id, parts.rows_in, committed, result, published, state,
                                time.monotonic() - started, clock)
        log.info("batch %(batch_id)d: %(rows_in)d in, %(scored)d scored, %(rejected)d rejected, %(alerts)d alerts, "
                 "%(labels)d labels | %(seconds).2f s, %(rate).0f rows/s | send-to-commit latency ms "
                 "p50 %(latency_p50_ms)s p95 %(latency_p95_ms)s max %(latency_max_ms)s | state %(state_events)d events "
                 "| stages s: %(stages)s", summary)
        if on_commit is not None:
            on_commit(summary)

    return process_batch
