"""Fault injection against the real job, broker and database (make chaos; part of make test).

Each test checks the accounting invariant: every record of the payments topic lands in
exactly one of scored_transactions / rejected_payments, none twice.
"""
from __future__ import annotations

import os
import random
import signal
import time

import pytest

from core.faults import AFTER_APPEND_BEFORE_COMMIT, FAULT_VARIABLE
from services.kafka_broker import KafkaBroker
from services.mariadb_server import MariaDbServer
from services.processes import read_pid
from sinks.mysql_connection import connect
from tests.job_runner import (
    ScoringJob,
    assert_each_record_once,
    assert_side_outputs_once,
    end_offsets,
    produce_generated,
    stream_id_of,
    wait_until,
    write_job_config,
)
from tests.model_helpers import WITHOUT_EXPLANATIONS

pytestmark = [pytest.mark.integration, pytest.mark.chaos]


def committed_batches(config, checkpoint) -> int:
    """Micro-batches the job has committed to MySQL (its ledger rows); 0 while MySQL is down."""
    stream_id = stream_id_of(checkpoint)
    if stream_id is None:
        return 0
    try:
        with connect(config.mysql, autocommit=True) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM stream_batches WHERE stream_id = %s", (stream_id,))
            return cursor.fetchone()[0]
    except Exception:  # noqa: BLE001 - the database may be the fault being injected
        return 0


def records_in(config) -> int:
    topics = config.kafka.topics
    return sum(sum(end_offsets(config.kafka.bootstrap_servers, t).values()) for t in (topics.payments, topics.labels))


def ledger_rows_in(config, checkpoint) -> int:
    with connect(config.mysql, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(SUM(rows_in), 0) FROM stream_batches WHERE stream_id = %s",
                       (stream_id_of(checkpoint),))
        return int(cursor.fetchone()[0])


# Records per micro-batch while the job is being killed: about 50 batches, so that the 5 kills fall
# mid-stream. Small, because each restart's first micro-batch runs on a cold JVM (interpreted code,
# RocksDB opened, Python workers started): 30,000 records took 33-41 s there, a warm batch 3-8 s.
KILL_BATCH = 10_000
FINAL_BATCH = 100_000  # the last run, which scores the rest of the stream, on a warm JVM


def sleep_then_kill_moment(config, checkpoint, rng: random.Random, after_batches: int) -> None:
    """Wait a random 0-8 s, but no longer than until the job has committed 2 batches more than
    `after_batches`: a warmed-up job commits a batch every few seconds, and the kills must
    happen before the stream ends."""
    deadline = time.monotonic() + rng.uniform(0, 8)
    while time.monotonic() < deadline and committed_batches(config, checkpoint) < after_batches + 2:
        time.sleep(0.1)


def test_kill_9_five_times_during_500k_messages(isolated_config, unique_id, tmp_path):
    produce_generated(isolated_config, 500_000, f"{unique_id}-", "--invalid-fraction", "0.002")
    config_path = write_job_config(isolated_config, tmp_path, max_offsets_per_trigger=KILL_BATCH,
                                   trigger_interval="1 second", model=WITHOUT_EXPLANATIONS)
    checkpoint, log_path = tmp_path / "checkpoint", tmp_path / "job.log"
    rng = random.Random(unique_id)
    kills = [0]
    for _ in range(5):  # each run commits at least one more batch, then dies at a random moment
        job = ScoringJob(config_path, checkpoint, log_path)
        job.wait_started()
        wait_until(lambda: committed_batches(isolated_config, checkpoint) > kills[-1], 240, "a new batch", job, 0.2)
        sleep_then_kill_moment(isolated_config, checkpoint, rng, kills[-1])
        assert job.process.poll() is None, job.log_tail()
        job.kill_9()
        kills.append(committed_batches(isolated_config, checkpoint))
    assert kills[-1] * KILL_BATCH < 500_000, f"the kills must happen mid-stream (batches committed: {kills})"
    final = ScoringJob(config_path, checkpoint, log_path, "--available-now",
                       "--max-offsets-per-trigger", str(FINAL_BATCH))
    assert final.wait() == 0, final.log_tail()
    with connect(isolated_config.mysql, autocommit=True) as connection:
        assert assert_each_record_once(connection, isolated_config, f"{unique_id}-") > 500_000
        assert_side_outputs_once(connection, isolated_config, f"{unique_id}-")


def batch_state(config, checkpoint, batch_id: int) -> tuple[int, bool]:
    """(scored rows the batch appended, whether its ledger row exists)."""
    with connect(config.mysql, autocommit=True) as connection, connection.cursor() as cursor:
        key = (stream_id_of(checkpoint), batch_id)
        cursor.execute("SELECT COUNT(*) FROM scored_transactions WHERE stream_id = %s AND batch_id = %s", key)
        appended = cursor.fetchone()[0]
        cursor.execute("SELECT COUNT(*) FROM stream_batches WHERE stream_id = %s AND batch_id = %s", key)
        return appended, cursor.fetchone()[0] == 1


def test_kill_between_the_jdbc_append_and_the_ledger_commit(isolated_config, unique_id, tmp_path):
    produce_generated(isolated_config, 30_000, f"{unique_id}-", "--invalid-fraction", "0.005")
    config_path = write_job_config(isolated_config, tmp_path, max_offsets_per_trigger=6_000,
                                   trigger_interval="1 second", model=WITHOUT_EXPLANATIONS)
    checkpoint, log_path = tmp_path / "checkpoint", tmp_path / "job.log"
    killed = ScoringJob(config_path, checkpoint, log_path, env={FAULT_VARIABLE: f"{AFTER_APPEND_BEFORE_COMMIT}:2"})
    assert killed.wait(300) in (-signal.SIGKILL, 128 + signal.SIGKILL), killed.log_tail()  # the wrapper's view
    appended, committed = batch_state(isolated_config, checkpoint, 2)
    assert appended > 0 and not committed, "the kill must fall between the append and the ledger commit"
    final = ScoringJob(config_path, checkpoint, log_path, "--available-now")
    assert final.wait() == 0, final.log_tail()
    assert batch_state(isolated_config, checkpoint, 2)[1]
    with connect(isolated_config.mysql, autocommit=True) as connection:
        assert assert_each_record_once(connection, isolated_config, f"{unique_id}-") > 30_000
        assert_side_outputs_once(connection, isolated_config, f"{unique_id}-")


def log_length(job: ScoringJob) -> int:
    return len(job.log_path.read_text(errors="replace"))


def log_between(job: ScoringJob, start: int, end: int) -> str:
    """The job's log text written between two log_length() readings."""
    return job.log_path.read_text(errors="replace")[start:end]


def signal_server(server: MariaDbServer, signal_number: int):
    """A fault action sending a signal to the server's current process (its pid changes on a restart)."""
    return lambda: os.kill(read_pid(server.pid_file), signal_number)


def test_outages_mid_stream_mariadb_stopped_frozen_then_broker_restarted(isolated_config, unique_id, tmp_path):
    """Three faults in one run of the job (one start-up, one preload, so the chaos suite stays within
    the test command's time budget), each checked on its own: the job catches up by itself after each
    (no restart from outside), the log after each fault shows how it recovered, and at the end every
    record is stored once.

    - MariaDB stopped for 30 s: connections refused; the job restarts from the checkpoint with backoff.
    - MariaDB frozen for 30 s (SIGSTOP, not a clean stop: connections stay open and nothing answers):
      with a 5 s read timeout the job notices within the freeze (an outage: restarts with backoff)
      instead of hanging on a socket; after SIGCONT it catches up.
    - The Kafka broker restarted (3 s down)."""
    produce_generated(isolated_config, 150_000, f"{unique_id}-", "--invalid-fraction", "0.002")
    total = records_in(isolated_config)
    config_path = write_job_config(isolated_config, tmp_path, max_offsets_per_trigger=8_000,
                                   trigger_interval="1 second", restart_backoff_max_seconds=8,
                                   mysql={"read_timeout_s": 5, "write_timeout_s": 5, "connect_timeout_s": 5},
                                   model=WITHOUT_EXPLANATIONS)
    checkpoint = tmp_path / "checkpoint"
    database, broker = MariaDbServer.from_config(isolated_config), KafkaBroker.from_config(isolated_config)
    faults = {"mariadb stopped": (database.stop, database.start, 30),
              "mariadb frozen": (signal_server(database, signal.SIGSTOP),
                                 signal_server(database, signal.SIGCONT), 30),
              "broker restarted": (broker.stop, broker.start, 3)}
    logs = {}
    job = ScoringJob(config_path, checkpoint, tmp_path / "job.log")
    try:
        job.wait_started()
        for name, (take_away, bring_back, outage_seconds) in faults.items():
            committed = committed_batches(isolated_config, checkpoint)
            wait_until(lambda: committed_batches(isolated_config, checkpoint) > committed, 180,  # noqa: B023
                       f"a committed batch before the fault '{name}'", job)
            offset = log_length(job)
            take_away()
            time.sleep(outage_seconds)
            bring_back()
            assert ledger_rows_in(isolated_config, checkpoint) < total, f"'{name}' must happen mid-stream"
            logs[name] = offset
        wait_until(lambda: ledger_rows_in(isolated_config, checkpoint) >= total, 600, "catch-up", job, every=2)
        assert job.process.poll() is None, "the job must keep running after the outages"
    finally:
        if job.process.poll() is None:
            job.stop()
    with connect(isolated_config.mysql, autocommit=True) as connection:
        assert_each_record_once(connection, isolated_config, f"{unique_id}-")
        assert_side_outputs_once(connection, isolated_config, f"{unique_id}-")
    assert "restarting from the checkpoint" in log_between(job, logs["mariadb stopped"], logs["mariadb frozen"])
    after_freeze = log_between(job, logs["mariadb frozen"], logs["broker restarted"])
    assert "restarting from the checkpoint" in after_freeze
    assert "Lost connection to MySQL server" in after_freeze or "timed out" in after_freeze
