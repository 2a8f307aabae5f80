"""A poison stream: 10,000 invalid messages of every kind interleaved with valid payments.
Every invalid one reaches the DLQ with the right reason, every valid one is scored, and the
query runs through without stopping."""
from __future__ import annotations

import json
import random

import pytest
from confluent_kafka import Producer

from events.contract import MAX_MESSAGE_BYTES, Reason
from pipeline.scoring_query import start_scoring_query
from sinks.mysql_connection import connect
from tests.job_runner import assert_each_record_once
from tests.kafka_helpers import consume
from tests.model_helpers import without_explanations

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

INVALID_COUNT, VALID_COUNT = 10_000, 30_000


def valid_payment(prefix: str, index: int) -> dict:
    return {"transaction_id": f"{prefix}{index}", "customer_id": f"C{index % 300}", "terminal_id": f"T{index % 500}",
            "amount": round(1 + (index % 9000) / 7, 2), "currency": "EUR",
            "event_time": f"2024-03-{1 + index % 28:02d}T{index % 24:02d}:{index % 60:02d}:00Z"}


def _json(document: dict) -> bytes:
    return json.dumps(document).encode()


def _without(document: dict, field: str) -> dict:
    return {k: v for k, v in document.items() if k != field}


# One way per reason (several for some) to spoil a valid payment: (expected reason, spoiler).
SPOILERS = [
    (Reason.NOT_UTF8, lambda d: b"\xff\xfe" + _json(d)),
    (Reason.OVERSIZE, lambda d: _json({**d, "note": "x" * MAX_MESSAGE_BYTES})),
    (Reason.BAD_JSON, lambda d: _json(d)[:-7]),
    (Reason.BAD_JSON, lambda d: b""),
    (Reason.BAD_JSON, lambda d: _json([d])),
    (Reason.BAD_JSON, lambda d: b'{"transaction_id": "a", "transaction_id": "b"}'),
    (Reason.MISSING_FIELD, lambda d: _json(_without(d, "customer_id"))),
    (Reason.MISSING_FIELD, lambda d: _json({**d, "amount": None})),
    (Reason.WRONG_TYPE, lambda d: _json({**d, "amount": str(d["amount"])})),
    (Reason.WRONG_TYPE, lambda d: _json({**d, "terminal_id": 12345})),
    (Reason.BAD_ID, lambda d: _json({**d, "transaction_id": "has space"})),
    (Reason.BAD_ID, lambda d: _json({**d, "customer_id": "c" * 65})),
    (Reason.BAD_ID, lambda d: _json({**d, "transaction_id": d["transaction_id"] + "\n"})),
    (Reason.BAD_ID, lambda d: _json({**d, "terminal_id": "T\u200b1"})),
    (Reason.EVENT_TIME_OUT_OF_RANGE, lambda d: _json({**d, "event_time": "2999-01-01T00:00:00Z"})),
    (Reason.AMOUNT_OUT_OF_RANGE, lambda d: _json({**d, "amount": -5})),
    (Reason.AMOUNT_OUT_OF_RANGE, lambda d: _json({**d, "amount": -0.01})),
    (Reason.AMOUNT_OUT_OF_RANGE, lambda d: _json({**d, "amount": 2_000_000})),
    (Reason.AMOUNT_PRECISION, lambda d: _json({**d, "amount": 12.345})),
    (Reason.BAD_CURRENCY, lambda d: _json({**d, "currency": "EURO"})),
    (Reason.BAD_TIMESTAMP, lambda d: _json({**d, "event_time": "2024-13-01T00:00:00Z"})),
    (Reason.BAD_TIMESTAMP, lambda d: _json({**d, "event_time": "2024-03-01 10:00:00"})),
]


def poison_plan(prefix: str, seed: int) -> list[tuple[str | None, bytes]]:
    """(expected reason or None for valid, raw value), shuffled so bad and good interleave."""
    rng = random.Random(seed)
    plan = [(None, _json(valid_payment(prefix, i))) for i in range(VALID_COUNT)]
    for i in range(INVALID_COUNT):
        reason, spoil = SPOILERS[i % len(SPOILERS)]
        plan.append((reason, spoil(valid_payment(f"{prefix}bad-", i))))
    rng.shuffle(plan)
    return plan


def send(bootstrap: str, topic: str, plan) -> dict[tuple[int, int], str | None]:
    """Send the plan; the expected reason of each record by its (partition, offset)."""
    positions: dict[tuple[int, int], str | None] = {}
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "enable.idempotence": True})
    for reason, value in plan:
        def delivered(error, message, reason=reason):
            assert error is None, error
            positions[(message.partition(), message.offset())] = reason
        while True:
            try:
                producer.produce(topic, value, key=None, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(60) == 0
    return positions


def test_poison_stream_every_invalid_message_in_the_dlq_with_its_reason(spark, isolated_config, unique_id):
    topics = isolated_config.kafka.topics
    expected = send(isolated_config.kafka.bootstrap_servers, topics.payments, poison_plan(f"{unique_id}-", 7))
    # Its made-up payments (no history, unusual amounts) all go to review: explaining 30,000 of
    # them was four fifths of this test's time, and the DLQ is its subject.
    config = without_explanations(isolated_config)
    query = start_scoring_query(spark, config, {"availableNow": True})
    query.awaitTermination(900)
    assert query.exception() is None

    dead_letters = consume(isolated_config.kafka.bootstrap_servers, topics.dlq, INVALID_COUNT, timeout=60)
    reasons = {}
    for message in dead_letters:
        letter = json.loads(message.value())
        reasons[(letter["kafka_partition"], letter["kafka_offset"])] = letter["reason_code"]
    wanted = {position: reason for position, reason in expected.items() if reason is not None}
    wrong = {p: (reasons.get(p), r) for p, r in wanted.items() if reasons.get(p) != r}
    assert len(dead_letters) == INVALID_COUNT and not wrong, (
        f"{len(dead_letters)} dead letters for {INVALID_COUNT} invalid messages; "
        f"{len(wrong)} with another reason than expected, e.g. {list(wrong.items())[:5]}")
    with connect(isolated_config.mysql, autocommit=True) as connection, connection.cursor() as cursor:
        assert assert_each_record_once(connection, isolated_config, f"{unique_id}-") == VALID_COUNT + INVALID_COUNT
        cursor.execute("SELECT COUNT(*) FROM scored_transactions WHERE transaction_id LIKE %s "
                       "AND transaction_id NOT LIKE %s", (f"{unique_id}-%", f"{unique_id}-bad-%"))
        assert cursor.fetchone()[0] == VALID_COUNT
