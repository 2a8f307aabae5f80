"""The job's path through the real broker, Spark's Kafka source, JDBC and MariaDB."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from events.kafka_source import read_payment_records
from pipeline.scoring_query import start_scoring_query
from tests.kafka_helpers import payment, produce
from udfs.model_artifact import current_artifact_dir

pytestmark = pytest.mark.integration

DRAIN = {"availableNow": True}


def run_until_caught_up(spark, config) -> str:
    """Run the production query in availableNow mode; return its stream id (the query id)."""
    query = start_scoring_query(spark, config, DRAIN)
    query.awaitTermination(300)
    assert query.exception() is None
    return str(query.id)


def fetch(connection, sql: str, *params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_spark_kafka_source_reads_what_was_produced(spark, isolated_config, unique_id):
    topic = isolated_config.kafka.topics.payments
    produce(isolated_config.kafka.bootstrap_servers, topic,
            [(f"C{i}", payment(f"{unique_id}-{i}")) for i in range(20)])
    records_df = (spark.read.format("kafka")
                  .option("kafka.bootstrap.servers", isolated_config.kafka.bootstrap_servers)
                  .option("subscribe", topic).load())
    assert records_df.count() == 20
    assert read_payment_records(spark, isolated_config.kafka, isolated_config.stream).isStreaming




def test_payments_land_in_mysql_once_with_their_values(spark, isolated_config, unique_id, mysql_connection):
    bootstrap, topic = isolated_config.kafka.bootstrap_servers, isolated_config.kafka.topics.payments
    valid = [payment(f"{unique_id}-{i}", customer_id=f"C{i % 3}", amount=10 + i,
                     event_time="2018-04-01T02:07:56.250+02:00") for i in range(50)]
    produce(bootstrap, topic, [(p["customer_id"], p) for p in valid]
            + [(None, b"not json"), (None, b'{"transaction_id": 5}')]
            + [(valid[0]["customer_id"], valid[0])])  # the same payment sent twice
    stream_id = run_until_caught_up(spark, isolated_config)

    stored = fetch(mysql_connection, "SELECT transaction_id, customer_id, amount, currency, event_time "
                   "FROM scored_transactions WHERE stream_id = %s ORDER BY kafka_offset", stream_id)
    by_id = {row[0]: row for row in stored}
    assert len(stored) == 50 and set(by_id) == {p["transaction_id"] for p in valid}
    assert by_id[f"{unique_id}-7"][1:] == ("C1", Decimal("17.00"), "EUR", datetime(2018, 4, 1, 0, 7, 56, 250000))
    rejected = fetch(mysql_connection, "SELECT reason_code FROM rejected_payments WHERE stream_id = %s "
                     "ORDER BY reason_code", stream_id)
    assert rejected == (("BAD_JSON",), ("MISSING_FIELD",))
    ledger = fetch(mysql_connection, "SELECT SUM(rows_in), SUM(rows_scored), SUM(rows_rejected) "
                   "FROM stream_batches WHERE stream_id = %s", stream_id)
    assert ledger == ((53, 50, 2),)
    scores = fetch(mysql_connection, "SELECT MIN(score), MAX(score), COUNT(DISTINCT model_version), "
                   "MAX(model_version) FROM scored_transactions WHERE stream_id = %s", stream_id)
    low, high, versions, version = scores[0]
    assert 0 <= low <= high <= 1 and versions == 1
    assert version == current_artifact_dir().name


def test_restart_and_replayed_batch_neither_lose_nor_duplicate(spark, isolated_config, unique_id,
                                                               mysql_connection):
    bootstrap, topic = isolated_config.kafka.bootstrap_servers, isolated_config.kafka.topics.payments
    produce(bootstrap, topic, [("C1", payment(f"{unique_id}-a{i}")) for i in range(30)])
    stream_id = run_until_caught_up(spark, isolated_config)

    produce(bootstrap, topic, [("C1", payment(f"{unique_id}-b{i}")) for i in range(20)])
    assert run_until_caught_up(spark, isolated_config) == stream_id  # same checkpoint, same stream

    # The offset and commit logs are written without Hadoop's checksum side files (core/spark.py).
    checkpoint = isolated_config.stream.checkpoint_location
    assert not [path for log in ("offsets", "commits") for path in (checkpoint / log).rglob("*.crc")]
    # A crash after the MySQL commit but before Spark's commit log: Spark runs the batch again.
    commits = isolated_config.stream.checkpoint_location / "commits"
    last_batch = max(int(path.name) for path in commits.iterdir() if path.name.isdigit())
    (commits / str(last_batch)).unlink()
    run_until_caught_up(spark, isolated_config)

    counts = fetch(mysql_connection, "SELECT COUNT(*), COUNT(DISTINCT transaction_id) FROM scored_transactions "
                   "WHERE stream_id = %s", stream_id)
    assert counts == ((50, 50),)
    ledger = fetch(mysql_connection, "SELECT COUNT(*), SUM(rows_scored) FROM stream_batches WHERE stream_id = %s",
                   stream_id)
    assert ledger[0][1] == 50



def test_a_payment_dated_far_in_the_future_moves_no_watermark(spark, isolated_config, unique_id, mysql_connection):
    """A valid-looking payment dated 2999 between normal ones is rejected with its own reason;
    it would otherwise move the watermark to 2999, and the customer's next payments would be
    late and lose their history once the watermark evicted it."""
    bootstrap, topic = isolated_config.kafka.bootstrap_servers, isolated_config.kafka.topics.payments
    first = payment(f"{unique_id}-1", customer_id="C9", event_time="2024-05-01T10:00:00Z")
    future = payment(f"{unique_id}-future", customer_id="C9", event_time="2999-01-01T00:00:00Z")
    produce(bootstrap, topic, [("C9", first), ("C9", future)])
    stream_id = run_until_caught_up(spark, isolated_config)
    for minute in (1, 2):  # each in a micro-batch of its own, after the watermark moved
        produce(bootstrap, topic, [("C9", payment(f"{unique_id}-next{minute}", customer_id="C9",
                                                  event_time=f"2024-05-01T10:0{minute}:00Z"))])
        run_until_caught_up(spark, isolated_config)
    assert fetch(mysql_connection, "SELECT reason_code FROM rejected_payments WHERE stream_id = %s", stream_id) == (
        ("EVENT_TIME_OUT_OF_RANGE",),)
    scored = fetch(mysql_connection, "SELECT transaction_id, cust_count_1d, is_late FROM scored_transactions "
                   "WHERE stream_id = %s ORDER BY event_time", stream_id)
    assert scored == ((f"{unique_id}-1", 1, 0), (f"{unique_id}-next1", 2, 0), (f"{unique_id}-next2", 3, 0))
