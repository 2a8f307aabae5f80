"""Driver-side transactions against the real MariaDB: a lock wait timeout is run again, not fatal."""
from __future__ import annotations

import logging
import threading

import pymysql
import pytest

from sinks.mysql_connection import ReusedConnection, connect

pytestmark = pytest.mark.integration


def locked_row(config, topic: str) -> pymysql.connections.Connection:
    """A connection holding a row lock on a rejected_payments row of `topic` (transaction left open)."""
    holder = connect(config.mysql)
    with holder.cursor() as cursor:
        cursor.execute(
            "INSERT INTO rejected_payments (kafka_topic, kafka_partition, kafka_offset, kafka_timestamp, reason_code, "
            "reason_message, raw_value_length, stream_id, batch_id, committed_at) VALUES (%s, 0, 0, NOW(6), "
            "'BAD_JSON', 'before', 0, 'lock-test', 0, NOW(6))", (topic,))
    holder.commit()
    with holder.cursor() as cursor:
        cursor.execute("SELECT reason_message FROM rejected_payments WHERE kafka_topic = %s FOR UPDATE", (topic,))
    return holder


def test_a_transaction_that_times_out_on_a_lock_runs_again(isolated_config, unique_id, caplog):
    topic = f"lock-{unique_id}"
    holder = locked_row(isolated_config, topic)
    connection = ReusedConnection(isolated_config.mysql)

    def update(cursor) -> int:
        cursor.execute("SET SESSION innodb_lock_wait_timeout = 1")
        return cursor.execute("UPDATE rejected_payments SET published_at = '2026-01-01' WHERE kafka_topic = %s",
                              (topic,))

    threading.Timer(1.5, holder.commit).start()  # the other transaction ends after the first attempt failed
    with caplog.at_level(logging.WARNING, logger="sinks.mysql_connection"):
        assert connection.transaction(update, "test update") == 1
    assert "test update: lock wait timeout (MySQL error 1205), attempt 1 of 4" in caplog.text
    with connect(isolated_config.mysql) as check, check.cursor() as cursor:
        cursor.execute("SELECT CAST(published_at AS DATE) FROM rejected_payments WHERE kafka_topic = %s", (topic,))
        assert str(cursor.fetchone()[0]) == "2026-01-01"
    holder.close()


def test_other_errors_are_not_retried(isolated_config):
    connection = ReusedConnection(isolated_config.mysql)
    calls = []

    def failing(cursor) -> None:
        calls.append(1)
        cursor.execute("SELECT * FROM no_such_table")

    with pytest.raises(pymysql.err.MySQLError):
        connection.transaction(failing, "test")
    assert len(calls) == 1
