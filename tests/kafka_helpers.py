"""Produce test messages to the real broker."""
from __future__ import annotations

import json
import time

from confluent_kafka import Consumer, Producer


def produce(bootstrap: str, topic: str, messages: list[tuple[bytes | str | None, bytes | str | dict]]) -> None:
    """Send (key, value) pairs; dict values are JSON-encoded. Fails if any is not delivered."""
    producer = Producer({"bootstrap.servers": bootstrap})
    for key, value in messages:
        payload = json.dumps(value) if isinstance(value, dict) else value
        producer.produce(topic, key=key, value=payload)
    assert producer.flush(30) == 0, "some test messages were not delivered"


def payment(transaction_id: str, customer_id: str = "C1", amount: float = 12.5,
            event_time: str = "2018-04-01T00:07:56Z", **extra) -> dict:
    return {"transaction_id": transaction_id, "customer_id": customer_id, "terminal_id": "T1",
            "amount": amount, "event_time": event_time, **extra}


def consume(bootstrap: str, topic: str, expected: int, timeout: float = 30) -> list:
    """Every message of a topic from the start: waits for `expected`, then 2 s more for any extra."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"e2e-{topic}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    messages, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline and len(messages) < expected:
        messages += [m for m in consumer.consume(1000, timeout=1) if m.error() is None]
    extra = [m for m in consumer.consume(1000, timeout=2) if m.error() is None]  # nothing more may come
    consumer.close()
    return messages + extra
