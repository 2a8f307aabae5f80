"""Read payment records from Kafka with Spark's Kafka source."""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from core.config import KafkaConfig, StreamConfig
from events.schemas import KAFKA_RECORD_SCHEMA


def read_payment_records(spark: SparkSession, kafka: KafkaConfig, stream: StreamConfig) -> DataFrame:
    """A streaming frame of the payments and labels topics' records, in one query so that
    both are committed together (key, value, topic, partition, offset, timestamp)."""
    reader = (kafka_reader(spark.readStream, kafka, f"{kafka.topics.payments},{kafka.topics.labels}",
                           stream.starting_offsets)
              .option("maxOffsetsPerTrigger", stream.max_offsets_per_trigger))
    return reader.load().select(*KAFKA_RECORD_SCHEMA.fieldNames())


def read_topic_range(spark: SparkSession, kafka: KafkaConfig, topic: str, starting: str = "earliest",
                     ending: str = "latest") -> DataFrame:
    """A batch frame of a topic's records between two offsets (Spark's startingOffsets and
    endingOffsets: earliest, latest or JSON such as {"payments":{"0":1200,"1":-2}})."""
    reader = kafka_reader(spark.read, kafka, topic, starting).option("endingOffsets", ending)
    return reader.load().select(*KAFKA_RECORD_SCHEMA.fieldNames())


def kafka_reader(reader, kafka: KafkaConfig, topics: str, starting: str):
    """Spark's Kafka source (stream or batch reader) on these topics from `starting`, with the
    project's consumer and security settings; a lost offset is an error, never a silent skip."""
    return (reader.format("kafka")
            .options(**{f"kafka.{name}": value for name, value in kafka.consumer})
            .options(**kafka.spark_options())
            .option("subscribe", topics)
            .option("startingOffsets", starting)
            .option("failOnDataLoss", "true"))
