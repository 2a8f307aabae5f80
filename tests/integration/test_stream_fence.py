"""Two drivers on one stream: the second is refused, a zombie that lost its lock writes nothing.

Against the real MariaDB (named locks held by database sessions) and, for the jobs, two real
spark-submit drivers started on one checkpoint.
"""
from __future__ import annotations

import subprocess

import pytest

from features.definitions import stored_feature_names
from sinks.mysql_sink import BatchFigures, BatchKey, MySqlBatchSink, Skipped, utc_now
from sinks.stream_fence import StreamFence, StreamFenced
from tests.job_runner import (
    ScoringJob,
    assert_each_record_once,
    end_offsets,
    job_command,
    produce_generated,
    stored_positions,
    wait_until,
    write_job_config,
)

pytestmark = pytest.mark.integration


def lock_holder(connection, fence: StreamFence) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT IS_USED_LOCK(%s)", (fence.name,))
        return cursor.fetchone()[0]


def kill_session(connection, session_id: int) -> None:
    """What a network partition does to the driver's lock session, once the server notices."""
    with connection.cursor() as cursor:
        cursor.execute("KILL CONNECTION %s", (session_id,))


def rejected_row(connection, key: BatchKey, offset: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO rejected_payments (kafka_topic, kafka_partition, kafka_offset, kafka_timestamp, reason_code, "
            "reason_message, raw_value_length, stream_id, batch_id, committed_at) VALUES (%s, 0, %s, NOW(6), "
            "'BAD_JSON', 'test row', 0, %s, %s, NOW(6))", (f"fence-{key.stream_id}", offset, key.stream_id,
                                                           key.batch_id))


def rows_of(connection, key: BatchKey) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM rejected_payments WHERE stream_id = %s AND batch_id = %s",
                       (key.stream_id, key.batch_id))
        return cursor.fetchone()[0]


def test_a_second_driver_on_the_stream_is_refused(isolated_config, mysql_connection, tmp_path):
    first = StreamFence(isolated_config.mysql, str(tmp_path / "checkpoint"))
    second = StreamFence(isolated_config.mysql, str(tmp_path / "checkpoint"))
    first.hold()
    holder = lock_holder(mysql_connection, first)
    with pytest.raises(StreamFenced, match=f"another driver is running the stream.*session {holder} has held"):
        second.hold()
    first.verify()  # the first keeps its lock
    assert lock_holder(mysql_connection, first) == holder
    first.release()
    second.hold()  # free again: the next driver may start
    assert lock_holder(mysql_connection, second) not in (None, holder)
    second.release()


def test_a_zombie_driver_deletes_and_commits_nothing_once_another_holds_the_lock(
        spark, isolated_config, mysql_connection, tmp_path, unique_id):
    zombie = StreamFence(isolated_config.mysql, str(tmp_path / "checkpoint"))
    successor = StreamFence(isolated_config.mysql, str(tmp_path / "checkpoint"))
    zombie.hold()
    kill_session(mysql_connection, lock_holder(mysql_connection, zombie))
    successor.hold()
    key = BatchKey(unique_id, 7)
    rejected_row(mysql_connection, key, 1)  # a row the successor committed for batch 7
    sink = MySqlBatchSink(isolated_config.mysql, stored_feature_names(isolated_config.features), zombie)
    with pytest.raises(StreamFenced, match="another driver"):
        sink.clear_attempt(key)  # the zombie replays batch 7: it must not delete the successor's row
    assert rows_of(mysql_connection, key) == 1
    with pytest.raises(StreamFenced, match="another driver"):
        sink.commit(key, BatchFigures.of({}), Skipped(), utc_now(), ("test", None))
    assert not sink.is_committed(key)
    successor.release()


def test_a_driver_whose_session_was_lost_takes_the_free_lock_again(isolated_config, mysql_connection, tmp_path):
    fence = StreamFence(isolated_config.mysql, str(tmp_path / "checkpoint"))
    fence.hold()
    lost = lock_holder(mysql_connection, fence)
    kill_session(mysql_connection, lost)  # e.g. a database restart: nobody else took the lock
    fence.verify()
    assert lock_holder(mysql_connection, fence) not in (None, lost)
    fence.release()
    assert lock_holder(mysql_connection, fence) is None


def test_two_jobs_started_on_one_checkpoint_one_runs_nothing_lost_or_twice(
        isolated_config, mysql_connection, tmp_path, unique_id):
    config_path = write_job_config(isolated_config, tmp_path, max_offsets_per_trigger=500,
                                   trigger_interval="1 second")
    checkpoint = tmp_path / "checkpoint"
    produce_generated(isolated_config, 1_500, f"{unique_id}-a-")
    first = ScoringJob(config_path, checkpoint, tmp_path / "first.log")
    try:
        first.wait_started()
        wait_until(lambda: len(stored_positions(mysql_connection, isolated_config.kafka.topics.payments,
                                                f"{unique_id}-")) > 0, 120, "a committed batch", first)
        second_log = tmp_path / "second.log"
        with open(second_log, "wb") as log:
            second = subprocess.run(job_command(config_path, checkpoint, "--available-now"), stdout=log, stderr=log,
                                    timeout=300)
        assert second.returncode == 3, second_log.read_text()[-3000:]
        assert "refusing to start: another driver is running the stream" in second_log.read_text()
        produce_generated(isolated_config, 1_500, f"{unique_id}-b-")
        expected = sum(end_offsets(isolated_config.kafka.bootstrap_servers,
                                   isolated_config.kafka.topics.payments).values())
        wait_until(lambda: len(stored_positions(mysql_connection, isolated_config.kafka.topics.payments,
                                                f"{unique_id}-")) >= expected, 240, "every record stored", first)
        assert first.process.poll() is None  # the first driver kept running
    finally:
        first.stop()
    assert assert_each_record_once(mysql_connection, isolated_config, f"{unique_id}-") >= expected
