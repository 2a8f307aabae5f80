"""Generated messages through the real broker: every one arrives once and keeps the contract."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from confluent_kafka import Consumer

from events.json_contract import LABEL_SCHEMA_FILE, contract_errors
from generator.simulator import SimulationParams, generate
from producer.plan import INVALID, LABEL, PAYMENT, build_plan
from producer.sender import send_plan
from services.topics import ensure_topics

pytestmark = pytest.mark.integration


def consume_all(bootstrap: str, topic: str, expected: int) -> list:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"rt-{topic}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    messages, deadline = [], time.monotonic() + 60
    while len(messages) < expected and time.monotonic() < deadline:
        batch = consumer.consume(10_000, timeout=1)
        messages += [m for m in batch if m.error() is None]
    consumer.close()
    return messages


def test_generated_payments_round_trip_and_validate(local_services, unique_id):
    bootstrap = local_services.kafka.bootstrap_servers
    payments_topic, labels_topic = f"rt-payments-{unique_id}", f"rt-labels-{unique_id}"
    ensure_topics(local_services.kafka, [payments_topic, labels_topic])
    payments, _ = generate(SimulationParams(n_customers=200, n_terminals=400, n_days=20, seed=11))
    plan = build_plan(payments, labels="fraud", label_delay=timedelta(days=7),
                      invalid_fraction=0.01)
    before_ms = time.time() * 1000
    report = send_plan(plan, bootstrap, {PAYMENT: payments_topic, INVALID: payments_topic, LABEL: labels_topic})
    after_ms = time.time() * 1000
    assert report.failed == 0 and report.sent == len(plan)

    received = consume_all(bootstrap, payments_topic, plan.count(PAYMENT) + plan.count(INVALID))
    valid = [m for m in received if not contract_errors(m.value())]
    assert len(received) == plan.count(PAYMENT) + plan.count(INVALID)
    assert len(valid) == len(payments) == plan.count(PAYMENT)
    sent = sorted(v for k, v in zip(plan.kinds, plan.values, strict=True) if k == PAYMENT)
    assert sorted(m.value() for m in valid) == sent
    assert all(before_ms - 1 <= m.timestamp()[1] <= after_ms + 1 for m in received)  # send time recorded
    for message in valid:  # key = customer_id
        assert message.key().decode() in message.value().decode()

    labels = consume_all(bootstrap, labels_topic, plan.count(LABEL))
    assert len(labels) == plan.count(LABEL) == int(payments["is_fraud"].sum())
    assert all(contract_errors(m.value(), LABEL_SCHEMA_FILE) == [] for m in labels)
