"""Publish a committed batch's alerts and rejected messages to Kafka (transactional outbox).

The rows are in payment_alerts / rejected_payments once the batch has committed; after it, an
executor reads those not yet published (Spark's JDBC reader) and publishes them (Spark's Kafka
writer), and the driver marks them published. It runs before the batch function returns, so
Spark commits the batch only after its messages are out; a crash in between publishes them
again (at least once: consumers dedupe by the message key).
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from core.config import KafkaConfig, MySqlConfig
from sinks.jdbc import jdbc_query
from sinks.mysql_connection import ReusedConnection, named_statements
from sinks.mysql_sink import COMMIT_SQL, BatchKey

PRODUCER_SETTINGS = {"kafka.acks": "all", "kafka.enable.idempotence": "true", "kafka.linger.ms": "5",
                     "kafka.compression.type": "lz4"}


def utc_text(moment: Column) -> Column:
    return F.date_format(moment, "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'")


def alert_messages(alerts_df: DataFrame, topic: str) -> DataFrame:
    """payment_alerts rows -> (topic, key = transaction_id, JSON value with decision, score, reasons)."""
    value = F.struct(
        "transaction_id", "customer_id", "terminal_id", F.col("amount").cast("double").alias("amount"), "currency",
        utc_text(F.col("event_time")).alias("event_time"), "decision", "score",
        F.coalesce(F.split("reasons", ","), F.array().cast("array<string>")).alias("reasons"), "model_version")
    return alerts_df.select(F.lit(topic).alias("topic"), F.col("transaction_id").alias("key"),
                            F.to_json(value).alias("value"))


def dead_letter_messages(rejected_df: DataFrame, topic: str) -> DataFrame:
    """rejected_payments rows -> (topic, key = topic/partition/offset, JSON value with the reason
    and the raw bytes' prefix in base64)."""
    value = F.struct("kafka_topic", "kafka_partition", "kafka_offset", "reason_code", "reason_message",
                     F.coalesce(F.base64("raw_value_prefix"), F.lit("")).alias("raw_value_base64"),
                     "raw_value_length")
    key = F.concat_ws("/", "kafka_topic", "kafka_partition", "kafka_offset")
    return rejected_df.select(F.lit(topic).alias("topic"), key.alias("key"), F.to_json(value).alias("value"))


class KafkaOutbox:
    """Publishes each committed batch's alerts and dead letters once they are in MySQL."""

    def __init__(self, kafka: KafkaConfig, mysql: MySqlConfig):
        self.kafka, self.mysql = kafka, mysql
        self.statements = named_statements(COMMIT_SQL)
        self.connection = ReusedConnection(mysql)

    def publish(self, spark: SparkSession, key: BatchKey) -> dict[str, bool]:
        """Publish what the batch has unpublished; which kinds it had."""
        with self.connection.cursor() as cursor:
            cursor.execute(self.statements["has_unpublished"], key.params())
            alerts, rejects = (bool(flag) for flag in cursor.fetchone())
        messages = []
        if alerts:
            messages.append(alert_messages(
                jdbc_query(spark, self.mysql, key.in_sql(self.statements["unpublished_alerts"])),
                self.kafka.topics.alerts))
        if rejects:
            messages.append(dead_letter_messages(
                jdbc_query(spark, self.mysql, key.in_sql(self.statements["unpublished_rejects"])),
                self.kafka.topics.dlq))
        if messages:
            self._send(messages[0] if len(messages) == 1 else messages[0].unionByName(messages[1]))
            self._mark_published(key, alerts, rejects)
        return {"alerts": alerts, "rejects": rejects}

    def _send(self, messages_df: DataFrame) -> None:
        (messages_df.write.format("kafka")
         .option("kafka.bootstrap.servers", self.kafka.bootstrap_servers)
         .options(**PRODUCER_SETTINGS)
         .save())

    def _mark_published(self, key: BatchKey, alerts: bool, rejects: bool) -> None:
        with self.connection.cursor() as cursor:
            if alerts:
                cursor.execute(self.statements["mark_alerts_published"], key.params())
            if rejects:
                cursor.execute(self.statements["mark_rejects_published"], key.params())
