"""Publish committed alerts and rejected messages to Kafka (transactional outbox).

The rows are in payment_alerts / rejected_payments once their batch has committed. A publish
request for a stream and a batch publishes every row of the stream committed up to that batch
and not yet published: an executor reads them (Spark's JDBC reader) and sends them (Spark's
Kafka writer), then the driver marks them published. Requests run in one background thread,
so the next micro-batch does not wait for Kafka; a request that fails, or a job that dies
before its request ran, is covered by the next request (the job makes one when it starts).
At least once: a crash between sending and marking sends again; consumers dedupe by the key.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from core.config import KafkaConfig, MySqlConfig
from sinks.jdbc import jdbc_query
from sinks.mysql_connection import ReusedConnection, named_statements
from sinks.mysql_sink import COMMIT_SQL, BatchKey

PRODUCER_SETTINGS = {"kafka.acks": "all", "kafka.enable.idempotence": "true", "kafka.linger.ms": "5",
                     "kafka.compression.type": "lz4"}
NO_LIMIT = 2 ** 62  # "every batch": the batch id a catch-up request publishes through

log = logging.getLogger(__name__)


def utc_text(moment: Column) -> Column:
    return F.date_format(moment, "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'")


def alert_messages(alerts_df: DataFrame, topic: str) -> DataFrame:
    """payment_alerts rows -> (topic, key = transaction_id, JSON value with decision, score, reasons)."""
    value = F.struct(
        "transaction_id", "customer_id", "terminal_id", F.col("amount").cast("double").alias("amount"), "currency",
        F.col("amount_base").cast("double").alias("amount_base"), utc_text(F.col("event_time")).alias("event_time"),
        "decision", "score",
        F.coalesce(F.split("reasons", ","), F.array().cast("array<string>")).alias("reasons"), "model_version",
        "top_features")
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


@dataclass
class Published:
    """What the last publish run sent, and the error that stopped it, if any."""

    through: BatchKey | None = None
    alerts: bool = False
    rejects: bool = False
    error: str | None = None


class KafkaOutbox:
    """Publishes what each stream has committed, in a background thread (one request at a time;
    a newer request for a stream replaces one still waiting)."""

    def __init__(self, kafka: KafkaConfig, mysql: MySqlConfig):
        self.kafka, self.mysql = kafka, mysql
        self.statements = named_statements(COMMIT_SQL)
        self.connection = ReusedConnection(mysql)
        self.last = Published()
        self._pending: dict[str, BatchKey] = {}
        self._spark: SparkSession | None = None
        self._wake = threading.Condition()
        self._busy = False
        self._thread: threading.Thread | None = None

    def request(self, spark: SparkSession, key: BatchKey) -> None:
        """Publish, in the background, the stream's committed rows up to key.batch_id."""
        with self._wake:
            self._spark = spark
            self._pending[key.stream_id] = key
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="payscore-outbox", daemon=True)
                self._thread.start()
            self._wake.notify()

    def catch_up(self, spark: SparkSession, stream_id: str) -> None:
        """Publish whatever the stream has committed and not published (at start-up)."""
        self.request(spark, BatchKey(stream_id, NO_LIMIT))

    def drain(self, timeout: float = 120) -> bool:
        """Wait until no request is waiting or running; whether that happened in time."""
        with self._wake:
            return self._wake.wait_for(lambda: not self._pending and not self._busy, timeout)

    def publish(self, spark: SparkSession, key: BatchKey) -> Published:
        """Publish now (in this thread) the stream's committed, unpublished rows up to key.batch_id."""
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
        return Published(key, alerts, rejects)

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._pending)
                stream_id, key = next(iter(self._pending.items()))
                del self._pending[stream_id]
                self._busy = True
            try:
                self.last = self.publish(self._spark, key)
            except Exception as error:  # noqa: BLE001 - an outage: the next request publishes these rows
                self.last = Published(key, error=str(error).splitlines()[0][:300])
                log.warning("publishing alerts and dead letters through batch %d failed (the next batch's "
                            "publish covers them): %s", key.batch_id, self.last.error)
            finally:
                with self._wake:
                    self._busy = False
                    self._wake.notify_all()

    def _send(self, messages_df: DataFrame) -> None:
        (messages_df.write.format("kafka")
         .options(**self.kafka.spark_options())
         .options(**PRODUCER_SETTINGS)
         .save())

    def _mark_published(self, key: BatchKey, alerts: bool, rejects: bool) -> None:
        with self.connection.cursor() as cursor:
            if alerts:
                cursor.execute(self.statements["mark_alerts_published"], key.params())
            if rejects:
                cursor.execute(self.statements["mark_rejects_published"], key.params())
