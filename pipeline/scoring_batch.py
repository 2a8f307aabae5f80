"""What the scoring query does with each micro-batch (its foreachBatch function).

Kafka records -> valid payments / labels / rejected -> features (numpy engine, state
restored for this batch) -> staged tables -> one MySQL commit -> state snapshot.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from core.config import AppConfig
from events.parse import split_labels, split_payments
from events.schemas import feature_field
from features.definitions import all_feature_names, model_feature_names
from features.engine import apply_batch
from features.state_store import FeatureStateStore
from sinks.mysql_sink import BatchKey, MySqlBatchSink, current_stream_id, utc_now
from udfs.model_artifact import ModelArtifact, load_artifact
from udfs.scoring import score_column

log = logging.getLogger(__name__)


def with_engine_payment_columns(payments_df: DataFrame) -> DataFrame:
    """Valid payments as the engine reads them: exact cents, UTC microseconds, row key."""
    return payments_df.select(
        "transaction_id", "customer_id", "terminal_id",
        (F.col("amount") * 100).cast("long").alias("amount_cents"),
        F.unix_micros("event_time").alias("event_us"),
        "kafka_partition", "kafka_offset",
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
    """The new payments' features as arrays sorted by row key (duplicates left out)."""
    fresh = ~features["is_duplicate"].to_numpy(dtype=bool)
    keys = row_keys(payments["kafka_partition"].to_numpy()[fresh], payments["kafka_offset"].to_numpy()[fresh])
    order = np.argsort(keys)
    table = {"_key": keys[order]}
    for name in feature_names:
        table[name] = features[name].to_numpy()[fresh][order].astype(NUMPY_TYPE[type(feature_field(name).dataType)])
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


def with_score(scored_df: DataFrame, model: ModelArtifact, artifact_dir: Path) -> DataFrame:
    """Add the model's score (pandas UDF) and the model version."""
    return (scored_df
            .withColumn("score", score_column(artifact_dir, model.feature_names))
            .withColumn("model_version", F.lit(model.version)))


def make_batch_processor(config: AppConfig, sink: MySqlBatchSink, store: FeatureStateStore,
                         on_commit: Callable[[dict], None] | None = None
                         ) -> Callable[[DataFrame, int], None]:
    """The foreachBatch function of the scoring query; refuses to start with an unfit model."""
    topics = config.kafka.topics
    feature_names = scored_feature_names(config)
    artifact_dir = config.model.artifact_dir()
    model = load_artifact(artifact_dir, model_feature_names(config.features))

    def process_batch(batch_df: DataFrame, batch_id: int) -> None:
        started, started_at = time.monotonic(), utc_now()
        spark = batch_df.sparkSession
        key = BatchKey(current_stream_id(spark), batch_id)
        committed = sink.is_committed(key)
        records_df = batch_df.persist()
        try:
            rows_in = records_df.count()
            payments_df, rejected_payments_df = split_payments(records_df.where(F.col("topic") == topics.payments))
            payments_df = payments_df.persist()
            labels_df, rejected_labels_df = split_labels(records_df.where(F.col("topic") == topics.labels))
            payments = with_engine_payment_columns(payments_df).toPandas()
            labels = with_engine_label_columns(labels_df).toPandas()
            features, state = apply_batch(store.state_before(batch_id), payments, labels, config.features, batch_id)
            moved, broadcast = {}, None
            if committed:
                log.info("batch %d was already committed; state advanced, nothing written", batch_id)
            else:
                scored_df, broadcast = with_features(spark, payments_df, payments, features, feature_names)
                moved = sink.write(key, {
                    "scored_transactions": with_score(scored_df, model, artifact_dir),
                    "rejected_payments": rejected_payments_df.unionByName(rejected_labels_df),
                    "fraud_labels": labels_df,
                }, ledger={"rows_in": rows_in, "labels_in": len(labels),
                           "late_rows": int(features["is_late"].eq(True).sum()),
                           "state_events": state.size, "started_at": started_at})
            store.save(state)
        finally:
            records_df.unpersist()
            if "payments_df" in locals():
                payments_df.unpersist()
            if "broadcast" in locals() and broadcast is not None:
                broadcast.destroy()
        seconds = time.monotonic() - started
        summary = {"batch_id": batch_id, "rows_in": rows_in, "skipped": committed,
                   "scored": moved.get("scored_transactions", 0), "rejected": moved.get("rejected_payments", 0),
                   "labels": moved.get("fraud_labels", 0), "seconds": seconds, "state_events": state.size}
        log.info("batch %(batch_id)d: %(rows_in)d in, %(scored)d scored, %(rejected)d rejected, "
                 "%(labels)d labels, %(seconds).2f s, state %(state_events)d events", summary)
        if on_commit is not None:
            on_commit(summary)

    return process_batch
