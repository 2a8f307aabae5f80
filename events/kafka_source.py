"""Read payment records from Kafka with Spark's Kafka source."""
from __future__ import annotations

import json

from confluent_kafka import Consumer, KafkaException, TopicPartition
from pyspark.sql import DataFrame, SparkSession

from core.config import KafkaConfig, StreamConfig
from events.schemas import KAFKA_RECORD_SCHEMA


def read_payment_records(spark: SparkSession, kafka: KafkaConfig, stream: StreamConfig) -> DataFrame:
    """A streaming frame of the payments and labels topics' records, in one query so that
    both are committed together (key, value, topic, partition, offset, timestamp)."""
    return (
        spark.readStream.format("kafka")
        .options(**{f"kafka.{name}": value for name, value in kafka.consumer})
        .option("kafka.bootstrap.servers", kafka.bootstrap_servers)
        .option("subscribe", f"{kafka.topics.payments},{kafka.topics.labels}")
        .option("startingOffsets", stream.starting_offsets)
        .option("maxOffsetsPerTrigger", stream.max_offsets_per_trigger)
        .option("failOnDataLoss", "true")
        .load()
        .select(*KAFKA_RECORD_SCHEMA.fieldNames())
    )


def partition_ranges(kafka: KafkaConfig, topic: str, count: int) -> dict[int, tuple[int, int]]:
    """[start, end) offsets of the last `count` records of a topic, spread over its partitions
    (each partition's share, or all it holds); {} when the topic does not exist, is empty or
    its partitions have no leader yet."""
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": "payscore-warm-up",
                         "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            return {}
        share = max(1, count // len(metadata.partitions))
        ranges = {}
        for partition in metadata.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            if high > low:
                ranges[partition] = (max(low, high - share), high)
        return ranges
    except KafkaException:
        return {}
    finally:
        consumer.close()


def recent_payment_records(spark: SparkSession, kafka: KafkaConfig, count: int) -> DataFrame | None:
    """The payments topic's last `count` records as a batch frame shaped like the stream's
    (read-only: nothing is committed); None when the topic holds none."""
    topic = kafka.topics.payments
    ranges = partition_ranges(kafka, topic, count)
    if not ranges:
        return None
    starting = json.dumps({topic: {str(p): start for p, (start, _) in ranges.items()}})
    ending = json.dumps({topic: {str(p): end for p, (_, end) in ranges.items()}})
    return (
        spark.read.format("kafka")
        .options(**{f"kafka.{name}": value for name, value in kafka.consumer})
        .option("kafka.bootstrap.servers", kafka.bootstrap_servers)
        .option("assign", json.dumps({topic: sorted(ranges)}))
        .option("startingOffsets", starting)
        .option("endingOffsets", ending)
        .load()
        .select(*KAFKA_RECORD_SCHEMA.fieldNames())
    )
