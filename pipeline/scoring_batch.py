"""What the scoring query does with each micro-batch (its foreachBatch function).

Kafka records -> valid payments / labels / rejected -> features (numpy engine, state
restored for this batch) -> staged tables -> one MySQL commit -> state snapshot.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from core.config import AppConfig
from events.parse import split_labels, split_payments
from events.schemas import AMOUNT_TYPE, ENGINE_PAYMENT_SCHEMA, feature_field
from features.definitions import all_feature_names
from features.engine import apply_batch
from features.state_store import FeatureStateStore
from sinks.mysql_sink import BatchKey, MySqlBatchSink, current_stream_id, utc_now

log = logging.getLogger(__name__)


def with_engine_payment_columns(payments_df: DataFrame) -> DataFrame:
    """Valid payments as the engine reads them: exact cents and UTC microseconds."""
    return payments_df.select(
        "transaction_id", "customer_id", "terminal_id", "currency",
        (F.col("amount") * 100).cast("long").alias("amount_cents"),
        F.unix_micros("event_time").alias("event_us"),
        "kafka_partition", "kafka_offset",
        F.unix_micros("kafka_timestamp").alias("kafka_ts_us"),
    )


def with_engine_label_columns(labels_df: DataFrame) -> DataFrame:
    return labels_df.select(
        "transaction_id", "terminal_id", F.unix_micros("event_time").alias("event_us"), "is_fraud",
        F.unix_micros("labeled_at").alias("labeled_at_us"))


def scored_feature_names(config: AppConfig) -> list[str]:
    """Feature columns stored with each payment (`amount` is the payment's own column)."""
    return [name for name in all_feature_names(config.features) if name != "amount"]


def scored_frame(spark: SparkSession, payments: pd.DataFrame, features: pd.DataFrame,
                 feature_names: list[str]) -> DataFrame:
    """Payments with their features as a Spark frame in scored_transactions' columns."""
    fresh = ~features["is_duplicate"].to_numpy(dtype=bool)
    rows = payments.loc[fresh, list(ENGINE_PAYMENT_SCHEMA.fieldNames())].copy()
    for name in feature_names:
        rows[name] = features.loc[fresh, name].to_numpy().astype(
            "int32" if name.startswith(("is_", "during_")) else features[name].dtype)
    schema = T.StructType(list(ENGINE_PAYMENT_SCHEMA.fields) + [feature_field(n) for n in feature_names])
    return (
        spark.createDataFrame(rows, schema)
        .withColumn("amount", (F.col("amount_cents").cast("decimal(18,0)") / 100).cast(AMOUNT_TYPE))
        .withColumn("event_time", F.timestamp_micros("event_us"))
        .withColumn("kafka_timestamp", F.timestamp_micros("kafka_ts_us"))
        .select("transaction_id", "customer_id", "terminal_id", "amount", "currency", "event_time",
                "kafka_partition", "kafka_offset", "kafka_timestamp", *feature_names)
    )


def make_batch_processor(config: AppConfig, sink: MySqlBatchSink, store: FeatureStateStore,
                         on_commit: Callable[[dict], None] | None = None
                         ) -> Callable[[DataFrame, int], None]:
    """The foreachBatch function of the scoring query."""
    topics = config.kafka.topics
    feature_names = scored_feature_names(config)

    def process_batch(batch_df: DataFrame, batch_id: int) -> None:
        started, started_at = time.monotonic(), utc_now()
        spark = batch_df.sparkSession
        key = BatchKey(current_stream_id(spark), batch_id)
        committed = sink.is_committed(key)
        records_df = batch_df.persist()
        try:
            rows_in = records_df.count()
            payments_df, rejected_payments_df = split_payments(records_df.where(F.col("topic") == topics.payments))
            labels_df, rejected_labels_df = split_labels(records_df.where(F.col("topic") == topics.labels))
            payments = with_engine_payment_columns(payments_df).toPandas()
            labels = with_engine_label_columns(labels_df).toPandas()
            features, state = apply_batch(store.state_before(batch_id), payments, labels, config.features, batch_id)
            moved = {}
            if committed:
                log.info("batch %d was already committed; state advanced, nothing written", batch_id)
            else:
                moved = sink.write(key, {
                    "scored_transactions": scored_frame(spark, payments, features, feature_names),
                    "rejected_payments": rejected_payments_df.unionByName(rejected_labels_df),
                    "fraud_labels": labels_df,
                }, ledger={"rows_in": rows_in, "labels_in": len(labels),
                           "late_rows": int(features["is_late"].eq(True).sum()),
                           "state_events": state.size, "started_at": started_at})
            store.save(state)
        finally:
            records_df.unpersist()
        seconds = time.monotonic() - started
        summary = {"batch_id": batch_id, "rows_in": rows_in, "skipped": committed,
                   "scored": moved.get("scored_transactions", 0), "rejected": moved.get("rejected_payments", 0),
                   "labels": moved.get("fraud_labels", 0), "seconds": seconds, "state_events": state.size}
        log.info("batch %(batch_id)d: %(rows_in)d in, %(scored)d scored, %(rejected)d rejected, "
                 "%(labels)d labels, %(seconds).2f s, state %(state_events)d events", summary)
        if on_commit is not None:
            on_commit(summary)

    return process_batch
