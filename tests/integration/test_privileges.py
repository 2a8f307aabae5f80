"""Least privilege against the real MariaDB: what the job's and the dashboard's accounts may not do."""
from __future__ import annotations

import pymysql
import pytest

from sinks.mysql_connection import connect

pytestmark = pytest.mark.integration
ACCESS_DENIED = {1142, 1143, 1044, 1045}  # table, column, database, login


@pytest.fixture
def reader_connection(local_services):
    connection = connect(local_services.mysql.as_reader(), autocommit=True)
    yield connection
    connection.close()


def denied(connection, statement: str) -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    except (pymysql.err.OperationalError, pymysql.err.ProgrammingError) as error:
        return error.args[0] in ACCESS_DENIED
    return False


@pytest.mark.parametrize("statement", [
    "UPDATE stream_batches SET rows_in = rows_in + 1 WHERE 1 = 0",
    "DELETE FROM stream_batches WHERE 1 = 0",
    "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (999, 'x', 'x', NOW())",
    "DELETE FROM schema_migrations WHERE 1 = 0",
    "UPDATE scored_transactions SET score = 0 WHERE 1 = 0",
    "UPDATE payment_alerts SET decision = 'APPROVED' WHERE 1 = 0",
    "DELETE FROM payment_alerts WHERE 1 = 0",
    "UPDATE rejected_payments SET reason_code = 'X' WHERE 1 = 0",
    "CREATE TABLE should_not_exist (id INT)",
    "DROP TABLE scored_transactions",
])
def test_the_job_cannot_change_the_ledger_the_migrations_or_stored_decisions(mysql_connection, statement):
    assert denied(mysql_connection, statement)


@pytest.mark.parametrize("statement", [
    "UPDATE payment_alerts SET published_at = NOW(6) WHERE 1 = 0",
    "UPDATE rejected_payments SET published_at = NOW(6) WHERE 1 = 0",
    "DELETE FROM scored_transactions WHERE 1 = 0",
    "SELECT COUNT(*) FROM stream_batches",
])
def test_the_job_may_do_what_its_sink_and_outbox_need(mysql_connection, statement):
    assert not denied(mysql_connection, statement)


def test_the_dashboard_account_only_reads(reader_connection):
    assert not denied(reader_connection, "SELECT COUNT(*) FROM scored_transactions")
    assert not denied(reader_connection, "SELECT COUNT(*) FROM stream_batches")
    for statement in ("INSERT INTO stream_batches (stream_id) VALUES ('x')",
                      "UPDATE payment_alerts SET published_at = NOW(6) WHERE 1 = 0",
                      "DELETE FROM scored_transactions WHERE 1 = 0"):
        assert denied(reader_connection, statement), statement
