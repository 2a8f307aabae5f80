"""The scoring job end to end: every message accounted for once, invalid ones in the DLQ, alerts out."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.scoring_query import start_scoring_query
from tests.kafka_helpers import consume, payment, produce

pytestmark = pytest.mark.integration

INVALID = Path(__file__).resolve().parents[2] / "contract" / "samples" / "invalid"
REASON_OF_SAMPLE = {"bad_json": "BAD_JSON", "missing_field": "MISSING_FIELD", "wrong_type": "WRONG_TYPE",
                    "amount_out_of_range": "AMOUNT_OUT_OF_RANGE", "bad_currency": "BAD_CURRENCY",
                    "bad_timestamp": "BAD_TIMESTAMP", "oversize": "OVERSIZE", "non_utf8": "NOT_UTF8"}


def rows(connection, sql: str, *params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_every_message_is_scored_or_rejected_once(spark, isolated_config, mysql_connection, unique_id):
    topics, bootstrap = isolated_config.kafka.topics, isolated_config.kafka.bootstrap_servers
    valid = [payment(f"{unique_id}-{i}", customer_id=f"C{i % 7}", amount=6000 if i % 25 == 0 else 20 + i,
                     event_time=f"2018-04-01T{i // 60:02d}:{i % 60:02d}:00Z") for i in range(200)]
    invalid = [(name, (INVALID / f"{name}.bin").read_bytes()) for name in REASON_OF_SAMPLE] * 3
    resent = valid[:5]
    conflicting = [{**valid[10], "amount": 99.99}, {**valid[11], "terminal_id": "T-other"}]
    produce(bootstrap, topics.payments,
            [(p["customer_id"], p) for p in valid] + [(None, raw) for _, raw in invalid]
            + [(p["customer_id"], p) for p in resent + conflicting])
    query = start_scoring_query(spark, isolated_config, {"availableNow": True})
    query.awaitTermination(600)
    assert query.exception() is None
    stream = str(query.id)

    scored = rows(mysql_connection, "SELECT kafka_partition, kafka_offset, transaction_id, amount FROM "
                  "scored_transactions WHERE stream_id = %s", stream)
    rejected = rows(mysql_connection, "SELECT kafka_partition, kafka_offset, reason_code FROM rejected_payments "
                    "WHERE stream_id = %s", stream)
    scored_at = {(p, o) for p, o, *_ in scored}
    rejected_at = {(p, o) for p, o, _ in rejected}
    assert len(scored) == 200 and {t for _, _, t, _ in scored} == {p["transaction_id"] for p in valid}
    assert not scored_at & rejected_at
    reasons = sorted(r for _, _, r in rejected)
    assert reasons == sorted([REASON_OF_SAMPLE[n] for n, _ in invalid] + ["DUPLICATE_CONFLICT"] * 2)
    stored_amount = {t: a for _, _, t, a in scored}
    assert float(stored_amount[valid[10]["transaction_id"]]) == valid[10]["amount"]  # first one kept

    (rows_in, scored_n, rejected_n, duplicates), = rows(
        mysql_connection, "SELECT SUM(rows_in), SUM(rows_scored), SUM(rows_rejected), SUM(rows_duplicate) "
        "FROM stream_batches WHERE stream_id = %s", stream)
    sent = len(valid) + len(invalid) + len(resent) + len(conflicting)
    assert (rows_in, scored_n, rejected_n, duplicates) == (sent, 200, len(invalid) + 2, len(resent))
    assert scored_n + rejected_n + duplicates == sent  # the accounting invariant

    dead_letters = consume(bootstrap, topics.dlq, len(rejected))
    assert sorted(m.key().decode() for m in dead_letters) == sorted(
        f"{topics.payments}/{p}/{o}" for p, o in rejected_at)
    assert {json.loads(m.value())["reason_code"] for m in dead_letters} == set(reasons)

    alerts = rows(mysql_connection, "SELECT transaction_id, decision FROM payment_alerts WHERE stream_id = %s", stream)
    large = {p["transaction_id"] for p in valid if p["amount"] == 6000}
    assert large <= {t for t, _ in alerts}
    published = consume(bootstrap, topics.alerts, len(alerts))
    assert sorted(m.key().decode() for m in published) == sorted(t for t, _ in alerts)
    # Every alert, and only an alert, carries its three top feature contributions (to Kafka too).
    explained = rows(mysql_connection, "SELECT decision <> 'APPROVED', top_features FROM scored_transactions "
                     "WHERE stream_id = %s", stream)
    assert all(bool(top) == bool(alert) for alert, top in explained)
    assert all(top.count(":") == 3 for alert, top in explained if alert)
    assert all(json.loads(m.value())["top_features"].count(":") == 3 for m in published)
    for message in published:
        body = json.loads(message.value())
        assert body["decision"] in ("REVIEW", "DECLINED") and 0 <= body["score"] <= 1 and body["reasons"]


def label(transaction: dict, is_fraud: bool, labeled_at: str, **changes) -> dict:
    return {**{k: transaction[k] for k in ("transaction_id", "customer_id", "terminal_id", "event_time")},
            "is_fraud": is_fraud, "labeled_at": labeled_at, **changes}


def test_labels_latest_wins_in_mysql_and_a_label_for_no_scored_payment_is_kept_with_a_reason(
        spark, isolated_config, mysql_connection, unique_id):
    topics, bootstrap = isolated_config.kafka.topics, isolated_config.kafka.bootstrap_servers
    paid = [payment(f"{unique_id}-{i}", customer_id="C1", event_time=f"2018-04-01T00:0{i}:00Z") for i in range(3)]
    corrected, confirmed = paid[0], paid[1]
    labels = [label(corrected, True, "2018-04-03T00:00:00Z"), label(confirmed, True, "2018-04-03T00:00:00Z"),
              label(corrected, False, "2018-04-04T00:00:00Z"),  # the chargeback reversed
              label(paid[2], True, "2018-04-03T00:00:00Z", transaction_id=f"{unique_id}-never-scored")]
    produce(bootstrap, topics.payments, [(p["transaction_id"], p) for p in paid])
    produce(bootstrap, topics.labels, [(lb["transaction_id"], lb) for lb in labels])
    query = start_scoring_query(spark, isolated_config, {"availableNow": True})
    query.awaitTermination(600)
    assert query.exception() is None

    stored = rows(mysql_connection, "SELECT transaction_id, is_fraud FROM fraud_labels WHERE transaction_id LIKE %s "
                  "ORDER BY kafka_offset", f"{unique_id}-%")
    assert sorted(stored) == sorted([(corrected["transaction_id"], 1), (confirmed["transaction_id"], 1),
                                     (corrected["transaction_id"], 0)])
    current = rows(mysql_connection, "SELECT transaction_id, is_fraud FROM current_fraud_labels "
                   "WHERE transaction_id LIKE %s ORDER BY transaction_id", f"{unique_id}-%")
    assert current == ((corrected["transaction_id"], 0), (confirmed["transaction_id"], 1))
    (reason, message, raw), = rows(mysql_connection, "SELECT reason_code, reason_message, raw_value_prefix FROM "
                                   "rejected_payments WHERE kafka_topic = %s", topics.labels)
    assert reason == "LABEL_UNKNOWN_TRANSACTION" and f"{unique_id}-never-scored" in message
    assert json.loads(raw)["transaction_id"] == f"{unique_id}-never-scored"  # kept for inspection
