"""A start with the checkpoint and the database out of step is refused, with what was found."""
from __future__ import annotations

import shutil

import pytest

from pipeline.scoring_query import start_scoring_query
from sinks.checkpoint_guard import CheckpointMismatch, CheckpointState, mismatch
from sinks.mysql_connection import admin_credentials, connect
from tests.kafka_helpers import payment, produce

pytestmark = pytest.mark.integration


def drained_run(spark, config, **options) -> str:
    query = start_scoring_query(spark, config, {"availableNow": True}, **options)
    query.awaitTermination(300)
    assert query.exception() is None
    return str(query.id)


def send_payments(config, prefix: str, count: int = 3) -> None:
    produce(config.kafka.bootstrap_servers, config.kafka.topics.payments,
            [(None, payment(f"{prefix}-{i}", event_time=f"2018-04-01T00:0{i}:00Z")) for i in range(count)])


def test_a_lost_checkpoint_is_refused_unless_accepted(spark, isolated_config, unique_id):
    send_payments(isolated_config, unique_id)
    first = drained_run(spark, isolated_config)
    shutil.rmtree(isolated_config.stream.checkpoint_location)
    with pytest.raises(CheckpointMismatch,
                       match=rf"is empty, but the database holds \d+ committed micro-batches.*{first}"):
        start_scoring_query(spark, isolated_config, {"availableNow": True})
    second = drained_run(spark, isolated_config, accept_checkpoint_mismatch=True)
    assert second != first
    drained_run(spark, isolated_config)  # the new stream is the location's now: no complaint


def test_a_database_behind_the_checkpoint_is_refused(spark, isolated_config, unique_id):
    send_payments(isolated_config, unique_id)
    stream = drained_run(spark, isolated_config)
    user, password = admin_credentials(isolated_config.mysql)  # a restore from an older backup
    with connect(isolated_config.mysql, user=user, password=password, autocommit=True) as admin, \
            admin.cursor() as cursor:
        cursor.execute("DELETE FROM stream_batches WHERE stream_id = %s", (stream,))
    with pytest.raises(CheckpointMismatch, match=r"has committed micro-batch \d+ .* no ledger row for it"):
        start_scoring_query(spark, isolated_config, {"availableNow": True})


def test_a_replaced_checkpoint_is_named():
    problem = mismatch("s3a://b/cp", CheckpointState("new-id", 4), "old-id", (12, 11), True)
    assert "holds another stream (new-id)" in problem and "12 committed micro-batches (the last 11)" in problem
    assert mismatch("s3a://b/cp", CheckpointState("old-id", 11), "old-id", (12, 11), True) is None
    assert mismatch("s3a://b/cp", CheckpointState(None, None), None, (0, None), True) is None  # a new stream
