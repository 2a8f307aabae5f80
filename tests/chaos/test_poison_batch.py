"""A batch that would fail the same way on every replay does not halt the stream: a decision
rule that raises for one payment (a division by zero under ANSI SQL) counts as not fired for
it, and a payment the database refuses (a DBA's trigger here) is quarantined with the error;
the rest of the batch commits, every record accounted for once."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from core.config import DecisionRule
from pipeline.scoring_query import start_scoring_query
from sinks.mysql_connection import admin_credentials, connect
from tests.kafka_helpers import consume, payment, produce

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

RAISING_RULE = DecisionRule("AMOUNT_RATIO", "amount / (amount - 1234.56) > 1000", "DECLINED",
                            "raises for an amount of exactly 1,234.56")


@pytest.fixture
def refusing_trigger(local_services, unique_id):
    """A trigger on scored_transactions that refuses one transaction id (SIGNAL SQLSTATE 45000)."""
    refused_id, trigger = f"{unique_id}-refused", f"refuse_{unique_id.replace('-', '_')}"[:64]
    user, password = admin_credentials(local_services.mysql)
    connection = connect(local_services.mysql, user=user, password=password, autocommit=True)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TRIGGER {trigger} BEFORE INSERT ON scored_transactions FOR EACH ROW "
                       f"BEGIN IF NEW.transaction_id = '{refused_id}' THEN "
                       "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by the test trigger'; END IF; END")
    yield refused_id
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    connection.close()


def rows(connection, sql: str, *params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_a_raising_rule_and_an_unwritable_payment_do_not_halt_the_stream(
        spark, isolated_config, mysql_connection, unique_id, refusing_trigger):
    config = isolated_config.model_copy(update={"decisions": replace(
        isolated_config.decisions, rules=(*isolated_config.decisions.rules, RAISING_RULE))})
    topics, bootstrap = config.kafka.topics, config.kafka.bootstrap_servers
    valid = [payment(f"{unique_id}-{i}", customer_id=f"C{i % 5}", amount=20 + i,
                     event_time=f"2018-04-01T00:{i:02d}:00Z") for i in range(40)]
    raising = payment(f"{unique_id}-raising", customer_id="C1", amount=1234.56, event_time="2018-04-01T00:50:00Z")
    refused = payment(refusing_trigger, customer_id="C2", amount=15, event_time="2018-04-01T00:51:00Z")
    sent = [*valid, raising, refused]
    produce(bootstrap, topics.payments, [(p["customer_id"], p) for p in sent])

    query = start_scoring_query(spark, config, {"availableNow": True})
    query.awaitTermination(600)
    assert query.exception() is None
    stream = str(query.id)

    scored = dict(rows(mysql_connection, "SELECT transaction_id, rule_errors FROM scored_transactions "
                       "WHERE stream_id = %s", stream))
    assert set(scored) == {p["transaction_id"] for p in [*valid, raising]}
    assert scored[raising["transaction_id"]] == "AMOUNT_RATIO"
    assert all(scored[p["transaction_id"]] is None for p in valid)  # the rule ran for them without error

    (reason, message), = rows(mysql_connection, "SELECT reason_code, reason_message FROM rejected_payments "
                              "WHERE stream_id = %s", stream)
    assert reason == "UNWRITABLE_RECORD"
    assert "scored_transactions" in message and "refused by the test trigger" in message

    (rows_in, scored_n, rejected_n, quarantined, rule_errors), = rows(
        mysql_connection, "SELECT SUM(rows_in), SUM(rows_scored), SUM(rows_rejected), SUM(rows_quarantined), "
        "SUM(rows_rule_errors) FROM stream_batches WHERE stream_id = %s", stream)
    assert (rows_in, scored_n, rejected_n, quarantined, rule_errors) == (len(sent), len(sent) - 1, 1, 1, 1)

    (dead_letter,) = consume(bootstrap, topics.dlq, 1)
    assert json.loads(dead_letter.value())["reason_code"] == "UNWRITABLE_RECORD"
