"""An analyst's verdict on an alert, sent as a label on the labels topic (the label contract,
with labeled_by): the job stores it in fraud_labels and counts it in the terminal-risk features
like any other label. Sent with the dashboard's own Kafka account, which may write that topic only."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import KafkaException, Producer

from core.config import LabelWriterConfig
from dashboard.data import AlertToLabel
from events.json_contract import LABEL_SCHEMA_FILE, contract_errors

PRODUCER_SETTINGS = {"acks": "all", "enable.idempotence": True, "message.timeout.ms": 15_000}


class LabelNotSent(RuntimeError):
    """The broker did not take the label (it says why)."""


def rfc3339(moment: datetime) -> str:
    """UTC, microseconds, 'Z' (the database's DATETIME values are UTC)."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def label_message(alert: AlertToLabel, is_fraud: bool, labeled_by: str, labeled_at: datetime) -> tuple[bytes, bytes]:
    """(key, value) of the label: keyed by transaction_id, as the contract asks; checked against it."""
    value = json.dumps({"transaction_id": alert.transaction_id, "customer_id": alert.customer_id,
                        "terminal_id": alert.terminal_id, "event_time": rfc3339(alert.event_time),
                        "is_fraud": is_fraud, "labeled_at": rfc3339(labeled_at), "labeled_by": labeled_by},
                       ensure_ascii=False).encode()
    errors = contract_errors(value, LABEL_SCHEMA_FILE)
    if errors:
        raise ValueError(f"label for {alert.transaction_id} breaks the label contract: {'; '.join(errors)}")
    return alert.transaction_id.encode(), value


@dataclass(frozen=True)
class SentLabel:
    partition: int
    offset: int


class LabelSender:
    """One idempotent producer on the label writer's account, for every session of the dashboard."""

    def __init__(self, writer: LabelWriterConfig, topic: str):
        self.topic = topic
        self.client_error: str | None = None  # the client's latest error (a refused login is only told here)
        self.producer = Producer({**writer.client_settings(), **PRODUCER_SETTINGS, "error_cb": self._on_error})

    def _on_error(self, error) -> None:
        self.client_error = error.str()

    def send(self, key: bytes, value: bytes, timeout_s: float = 20) -> SentLabel:
        """Send and wait for the broker's acknowledgement; LabelNotSent with its reason otherwise."""
        outcome: list = []
        self.producer.produce(self.topic, key=key, value=value,
                              on_delivery=lambda error, message: outcome.append((error, message)))
        self.producer.flush(timeout_s)
        if not outcome:
            raise LabelNotSent(f"no answer from the broker within {timeout_s:.0f} s: {self.client_error}")
        error, message = outcome[0]
        if error is not None:
            raise LabelNotSent(error.str())
        return SentLabel(message.partition(), message.offset())

    def check_access(self, timeout_s: float = 10) -> None:
        """Fail now (LabelNotSent) when the account cannot see the topic (wrong password, no ACL)."""
        try:
            metadata = self.producer.list_topics(self.topic, timeout=timeout_s).topics[self.topic]
        except KafkaException as error:
            self.producer.poll(0)  # serves the error callback, which knows why (a refused login)
            raise LabelNotSent(self.client_error or str(error)) from None
        if metadata.error is not None:
            raise LabelNotSent(f"topic {self.topic}: {metadata.error.str()}")
