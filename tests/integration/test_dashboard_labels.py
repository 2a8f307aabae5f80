"""Labels from the dashboard, without the browser: the label writer's Kafka account may write the
labels topic and nothing else (the real broker's ACLs); a label it sends goes through the job
into fraud_labels with who gave it; the users file holds bcrypt hashes only."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from confluent_kafka import Consumer, KafkaException

from dashboard import data
from dashboard.labels import LabelNotSent, LabelSender, label_message
from dashboard.users import LOCAL_ANALYST, UsersFileError, read_credentials, with_user, write_credentials
from pipeline.scoring_query import start_scoring_query
from services.kafka_acls import allow_label_writer
from sinks.mysql_connection import connect
from tests.kafka_helpers import payment, produce

pytestmark = pytest.mark.integration


def test_the_label_writer_may_write_the_labels_topic_and_nothing_else(isolated_config):
    writer, topics = isolated_config.dashboard.label_writer, isolated_config.kafka.topics
    allow_label_writer(isolated_config, topics.labels)
    sent = LabelSender(writer, topics.labels).send(b"k", b"{}")
    assert sent.offset >= 0
    with pytest.raises(LabelNotSent, match="[Tt]opic authorization failed"):
        LabelSender(writer, topics.payments).send(b"k", b"{}")
    consumer = Consumer({**writer.client_settings(), "group.id": "label-writer-reads", "auto.offset.reset": "earliest"})
    try:
        consumer.subscribe([topics.labels])
        with pytest.raises(KafkaException, match="AUTHORIZATION_FAILED"):
            for _ in range(20):
                message = consumer.poll(1)
                if message is not None and message.error():
                    raise KafkaException(message.error())
    finally:
        consumer.close()


def test_a_wrong_password_is_refused_by_the_broker(isolated_config):
    from dataclasses import replace

    from pydantic import SecretStr

    writer = replace(isolated_config.dashboard.label_writer, sasl_password=SecretStr("not-the-password"))
    with pytest.raises(LabelNotSent, match="[Aa]uthentication|SASL"):
        LabelSender(writer, isolated_config.kafka.topics.labels).check_access(timeout_s=5)


def test_an_analyst_s_label_reaches_fraud_labels_with_who_gave_it(spark, isolated_config, unique_id):
    config, topics = isolated_config, isolated_config.kafka.topics
    allow_label_writer(config, topics.labels)
    transaction_id = f"{unique_id}-big"
    produce(config.kafka.bootstrap_servers, topics.payments,
            [(transaction_id, payment(transaction_id, customer_id=f"{unique_id}-c", amount=9_990.0,
                                      event_time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")))])
    drain(spark, config)
    with connect(config.mysql, autocommit=True) as connection, connection.cursor() as cursor:
        alert = data.alert_to_label(cursor, transaction_id)
        assert alert is not None, "the payment should have raised an alert (amount rule)"
        key, value = label_message(alert, True, LOCAL_ANALYST, datetime.now(UTC))
        LabelSender(config.dashboard.label_writer, topics.labels).send(key, value)
        drain(spark, config)
        assert data.latest_label(cursor, transaction_id)[:2] == (True, LOCAL_ANALYST)
        cursor.execute("SELECT labeled_by FROM current_fraud_labels WHERE transaction_id = %s", (transaction_id,))
        assert cursor.fetchall() == ((LOCAL_ANALYST,),)


def drain(spark, config) -> None:
    query = start_scoring_query(spark, config, {"availableNow": True})
    query.awaitTermination(600)
    assert query.exception() is None


def test_the_users_file_keeps_hashes_and_refuses_a_clear_password(tmp_path):
    path = tmp_path / "users.yaml"
    write_credentials(path, with_user({}, "alice", "correct horse battery", "Alice"))
    stored = path.read_text()
    assert "correct horse" not in stored and "$2b$" in stored and oct(path.stat().st_mode)[-3:] == "600"
    assert set(read_credentials(path)["usernames"]) == {"alice"}
    path.write_text("usernames:\n  bob:\n    name: Bob\n    password: plain-text-password\n")
    with pytest.raises(UsersFileError, match="bcrypt"):
        read_credentials(path)
    with pytest.raises(UsersFileError, match="at least 12"):
        with_user({}, "carol", "short", "Carol")
