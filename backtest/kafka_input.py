"""The backtest's dataset from Kafka: a payments topic's offset range, each payment labelled by the
labels topic's latest label for it (no label: not fraud), both read with the job's own parser."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from core.config import AppConfig
from events.kafka_source import read_topic_range
from events.parse import parse_records
from pipeline.scoring_query import event_time_bounds

DATASET_COLUMNS = ["transaction_id", "customer_id", "terminal_id", "amount", "event_time", "is_fraud"]


@dataclass(frozen=True)
class KafkaRange:
    """Which records to replay: a topic and Spark's startingOffsets / endingOffsets."""

    topic: str
    starting: str = "earliest"
    ending: str = "latest"
    labels_topic: str | None = None  # default: the config's labels topic, read whole


def valid_payments_of(parsed_df: DataFrame) -> DataFrame:
    """The valid payments, each once (the first record of a transaction id), amounts in the base currency."""
    first = Window.partitionBy("transaction_id").orderBy("kafka_partition", "kafka_offset")
    return (parsed_df.where(F.col("reason_code").isNull() & ~F.col("is_label"))
            .withColumn("_n", F.row_number().over(first)).where("_n = 1")
            .select("transaction_id", "customer_id", "terminal_id", F.col("amount_base").cast("double").alias("amount"),
                    "event_time"))


def current_labels_of(parsed_df: DataFrame) -> DataFrame:
    """Each labelled transaction's latest label (as current_fraud_labels): transaction_id, is_fraud."""
    latest = Window.partitionBy("transaction_id").orderBy(F.desc("kafka_partition"), F.desc("kafka_offset"))
    return (parsed_df.where(F.col("reason_code").isNull() & F.col("is_label"))
            .withColumn("_n", F.row_number().over(latest)).where("_n = 1")
            .select("transaction_id", "is_fraud"))


def labelled_payments(payments_df: DataFrame, labels_df: DataFrame) -> DataFrame:
    return (payments_df.join(labels_df, "transaction_id", "left")
            .withColumn("is_fraud", F.coalesce("is_fraud", F.lit(False))).select(*DATASET_COLUMNS))


def read_kafka_dataset(spark: SparkSession, config: AppConfig, source: KafkaRange) -> pd.DataFrame:
    """The labelled dataset of the range, as read_dataset gives a file's (event_time in UTC)."""
    labels_topic = source.labels_topic or config.kafka.topics.labels
    payments_df = valid_payments_of(parsed(config, read_topic_range(spark, config.kafka, source.topic, source.starting,
                                                                     source.ending), is_label=False))
    labels_df = current_labels_of(parsed(config, read_topic_range(spark, config.kafka, labels_topic), is_label=True))
    dataset = labelled_payments(payments_df, labels_df).toPandas()
    if dataset.empty:
        raise ValueError(f"no valid payment in {source.topic} from {source.starting} to {source.ending}")
    dataset["event_time"] = pd.to_datetime(dataset["event_time"], utc=True)  # the session's time zone is UTC
    return dataset


def parsed(config: AppConfig, records_df: DataFrame, is_label: bool) -> DataFrame:
    """The job's parser with the job's event-time bounds and currency rates; every record a label or none."""
    return parse_records(records_df, F.lit(is_label), event_time_bounds=event_time_bounds(config),
                         currency=config.currency)
