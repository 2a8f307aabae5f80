"""Produce test messages to the real broker."""
from __future__ import annotations

import json
import time

from confluent_kafka import Consumer, Producer, TopicPartition


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


def consume_to_end(bootstrap: str, topic: str, timeout: float = 60) -> list:
    """Every message a topic holds now, read up to each partition's end offset. For at-least-once
    outputs: duplicates count toward no total, so a resend cannot hide a message never sent."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"to-end-{topic}-{time.monotonic_ns()}",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p, end in ends.items() if end > 0])
        positions, messages, deadline = dict.fromkeys(ends, 0), [], time.monotonic() + timeout
        while any(positions[p] < end for p, end in ends.items()):
            assert time.monotonic() < deadline, f"{topic}: read up to {positions} of {ends} in {timeout} s"
            for message in consumer.consume(1000, timeout=1):
                if message.error() is None:
                    messages.append(message)
                    positions[message.partition()] = message.offset() + 1
                elif message.error().code() == -191:  # _PARTITION_EOF: the partition's end is reached
                    positions[message.partition()] = max(positions[message.partition()], message.offset())
        return messages
    finally:
        consumer.close()
