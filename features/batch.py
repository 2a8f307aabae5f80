"""Features of a whole dataset (training), from the stream's own stateful operators run as a
Spark batch query: every payment of a key is seen at once, so each payment gets exactly the
features a stream gives it when its events arrive in time order."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from core.config import FeatureConfig
from events.schemas import AMOUNT_TYPE, BASE_AMOUNT_TYPE, PARSED_RECORD_SCHEMA
from features.calendar import with_calendar_features
from features.definitions import all_feature_names
from features.velocity import BLOCK_EVENTS, is_scored, with_velocity_features

TRAINING_TOPIC = "training"
TRAINING_RECORD_SCHEMA = T.StructType([
    T.StructField("transaction_id", T.StringType()), T.StructField("customer_id", T.StringType()),
    T.StructField("terminal_id", T.StringType()), T.StructField("amount_cents", T.LongType()),
    T.StructField("event_us", T.LongType()), T.StructField("is_label", T.BooleanType()),
    T.StructField("is_fraud", T.BooleanType()), T.StructField("labeled_at_us", T.LongType()),
    T.StructField("kafka_offset", T.LongType()),
])


def event_micros(times: pd.Series) -> np.ndarray:
    """UTC timestamps (tz-aware or naive UTC) as int64 microseconds since the epoch."""
    utc = times.dt.tz_convert("UTC").dt.tz_localize(None) if times.dt.tz is not None else times
    return utc.to_numpy(dtype="datetime64[us]").astype(np.int64)


def labels_after_delay(dataset: pd.DataFrame, delay: timedelta) -> pd.DataFrame:
    """The labels the producer sends: each fraud becomes known `delay` after its event time."""
    fraud = dataset[dataset["is_fraud"].astype(bool)]
    event_us = event_micros(fraud["event_time"])
    return pd.DataFrame({
        "transaction_id": fraud["transaction_id"].to_numpy(dtype=object),
        "customer_id": fraud["customer_id"].to_numpy(dtype=object),
        "terminal_id": fraud["terminal_id"].to_numpy(dtype=object),
        "event_us": event_us,
        "is_fraud": True,
        "labeled_at_us": event_us + int(delay / timedelta(microseconds=1)),
    })


def training_records(dataset: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Payments (in event-time order, numbered as if read from one Kafka partition) and labels,
    in plain columns: ids, cents, microseconds."""
    ordered = dataset.sort_values("event_time", kind="stable")
    payments = pd.DataFrame({
        "transaction_id": ordered["transaction_id"].to_numpy(dtype=object),
        "customer_id": ordered["customer_id"].to_numpy(dtype=object),
        "terminal_id": ordered["terminal_id"].to_numpy(dtype=object),
        "amount_cents": pd.array(np.rint(ordered["amount"].to_numpy(dtype=float) * 100).astype(np.int64),
                                 dtype="Int64"),
        "event_us": event_micros(ordered["event_time"]),
        "is_label": False, "is_fraud": pd.array([None] * len(ordered), dtype="boolean"),
        "labeled_at_us": pd.array([None] * len(ordered), dtype="Int64"),
    })
    label_rows = pd.DataFrame({
        "transaction_id": labels["transaction_id"].to_numpy(dtype=object),
        "customer_id": labels["customer_id"].to_numpy(dtype=object),
        "terminal_id": labels["terminal_id"].to_numpy(dtype=object),
        "amount_cents": pd.array([None] * len(labels), dtype="Int64"),
        "event_us": labels["event_us"].to_numpy(dtype=np.int64),
        "is_label": True, "is_fraud": pd.array(labels["is_fraud"].to_numpy(dtype=bool), dtype="boolean"),
        "labeled_at_us": pd.array(labels["labeled_at_us"].to_numpy(dtype=np.int64), dtype="Int64"),
    })
    records = pd.concat([payments, label_rows], ignore_index=True)
    records["kafka_offset"] = np.arange(len(records), dtype=np.int64)
    return records[TRAINING_RECORD_SCHEMA.fieldNames()]


def training_frame(spark: SparkSession, records: pd.DataFrame) -> DataFrame:
    return spark.createDataFrame(records, TRAINING_RECORD_SCHEMA)


def as_parsed_records(records_df: DataFrame, base_currency: str = "EUR") -> DataFrame:
    """training_records as the parser's output (PARSED_RECORD_SCHEMA), what the operators read.
    The training data's amounts are in the base currency (amount_base = amount)."""
    micros = lambda name: F.timestamp_micros(F.col(name))  # noqa: E731
    return records_df.select(
        F.lit(TRAINING_TOPIC).alias("kafka_topic"), F.lit(0).alias("kafka_partition"),
        F.col("kafka_offset").cast("long"), micros("event_us").alias("kafka_timestamp"),
        F.col("is_label").cast("boolean"), F.lit(None).cast("string").alias("reason_code"),
        F.lit(None).cast("string").alias("reason_message"), F.lit(None).cast("binary").alias("raw_value_prefix"),
        F.lit(0).alias("raw_value_length"), "transaction_id", "customer_id", "terminal_id",
        (F.col("amount_cents").cast("decimal(18,0)") / 100).cast(AMOUNT_TYPE).alias("amount"),
        F.when(~F.col("is_label"), F.lit(base_currency)).alias("currency"),
        (F.col("amount_cents").cast("decimal(18,0)") / 100).cast(BASE_AMOUNT_TYPE).alias("amount_base"),
        micros("event_us").alias("event_time"),
        F.col("is_fraud").cast("boolean"), micros("labeled_at_us").alias("labeled_at"),
        F.lit(None).cast("string").alias("labeled_by"),
    ).select(*PARSED_RECORD_SCHEMA.fieldNames())


def featured_records(spark: SparkSession, dataset: pd.DataFrame, labels: pd.DataFrame, config: FeatureConfig,
                     block_events: int = BLOCK_EVENTS, base_currency: str = "EUR") -> DataFrame:
    """The dataset's payments and labels through the stream's stateful operators and calendar
    features in a batch query (training and the backtest both start here)."""
    records_df = as_parsed_records(training_frame(spark, training_records(dataset, labels)), base_currency)
    return (records_df.transform(with_velocity_features(config, streaming=False, block_events=block_events))
            .transform(with_calendar_features))


def compute_features(spark: SparkSession, dataset: pd.DataFrame, labels: pd.DataFrame, config: FeatureConfig,
                     block_events: int = BLOCK_EVENTS, base_currency: str = "EUR") -> pd.DataFrame:
    """Every feature of every payment of the dataset, as the stream computes them (same index as
    dataset), with is_duplicate for a transaction id seen earlier in event-time order."""
    featured_df = featured_records(spark, dataset, labels, config, block_events, base_currency)
    names = [name for name in all_feature_names(config) if name != "amount"]
    payments = (featured_df.where(F.col("reason_code").isNull() & ~F.col("is_label"))
                .select("transaction_id", "kafka_offset", *names,
                        F.col("duplicate_of").isNotNull().alias("is_duplicate"), is_scored().alias("scored"))
                .toPandas())
    first_copy = payments.sort_values("kafka_offset").drop_duplicates("transaction_id")
    features = first_copy.set_index("transaction_id").reindex(dataset["transaction_id"].to_numpy())
    features.index = dataset.index
    features.insert(0, "amount", dataset["amount"].to_numpy(dtype=float))
    return features[["amount", *names, "is_duplicate"]]
