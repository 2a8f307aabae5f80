"""Publish a committed batch's alerts and rejected messages to Kafka (transactional outbox).

The rows are written to payment_alerts / rejected_payments in the batch's MySQL commit;
after it, this publishes those not yet published and marks them. It runs before the batch
function returns, so Spark commits the batch only after its messages are out; a crash in
between re-publishes (at least once: consumers dedupe by the message key).
"""
from __future__ import annotations

import base64
import json

from confluent_kafka import Producer

from core.config import KafkaConfig, MySqlConfig
from sinks.mysql_connection import ReusedConnection, named_statements
from sinks.mysql_sink import COMMIT_SQL, BatchKey


def alert_message(row: tuple) -> tuple[bytes, bytes]:
    (transaction_id, customer_id, terminal_id, amount, currency, event_time, decision, score,
     reasons, model_version) = row
    value = {"transaction_id": transaction_id, "customer_id": customer_id, "terminal_id": terminal_id,
             "amount": float(amount), "currency": currency,
             "event_time": event_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "decision": decision,
             "score": score, "reasons": (reasons or "").split(",") if reasons else [],
             "model_version": model_version}
    return transaction_id.encode(), json.dumps(value).encode()


def dead_letter_message(row: tuple) -> tuple[bytes, bytes]:
    topic, partition, offset, reason_code, reason_message, raw_prefix, raw_length = row
    value = {"kafka_topic": topic, "kafka_partition": partition, "kafka_offset": offset,
             "reason_code": reason_code, "reason_message": reason_message,
             "raw_value_base64": base64.b64encode(raw_prefix or b"").decode(), "raw_value_length": raw_length}
    return f"{topic}/{partition}/{offset}".encode(), json.dumps(value).encode()


class KafkaOutbox:
    """Publishes each committed batch's alerts and dead letters once they are in MySQL."""

    def __init__(self, kafka: KafkaConfig, mysql: MySqlConfig):
        self.kafka, self.mysql = kafka, mysql
        self.statements = named_statements(COMMIT_SQL)
        self.connection = ReusedConnection(mysql)
        self.errors: list[str] = []
        self.producer = Producer({"bootstrap.servers": kafka.bootstrap_servers, "enable.idempotence": True,
                                  "acks": "all", "linger.ms": 5, "compression.type": "lz4",
                                  "on_delivery": self._on_delivery})

    def _on_delivery(self, error, _message) -> None:
        if error is not None:
            self.errors.append(str(error))

    def publish(self, key: BatchKey) -> dict[str, int]:
        counts = {}
        with self.connection.cursor() as cursor:
            for kind, topic, builder in (("alerts", self.kafka.topics.alerts, alert_message),
                                         ("rejects", self.kafka.topics.dlq, dead_letter_message)):
                cursor.execute(self.statements[f"unpublished_{kind}"], key.params())
                rows = cursor.fetchall()
                for row in rows:
                    message_key, value = builder(row)
                    self._produce(topic, message_key, value)
                if rows:
                    self._flush()
                    cursor.execute(self.statements[f"mark_{kind}_published"], key.params())
                counts[kind] = len(rows)
        return counts

    def _produce(self, topic: str, key: bytes, value: bytes) -> None:
        while True:
            try:
                self.producer.produce(topic, value, key)
                return
            except BufferError:
                self.producer.poll(0.05)

    def _flush(self) -> None:
        remaining = self.producer.flush(60)
        failed, self.errors = self.errors, []
        if remaining or failed:
            raise RuntimeError(f"alert/dead-letter messages not delivered to Kafka: {remaining} still queued, "
                               f"{len(failed)} failed (first: {failed[:1]})")
