"""kill -9 of the job in the middle of a stream, then a restart from its checkpoint:
nothing lost, nothing duplicated, decisions identical to an uninterrupted run.

The same generated payments go to two topics under two id prefixes: one is scored by an
uninterrupted run, the other by the real job (spark-submit subprocess) that is killed
with SIGKILL (its whole process group: JVM, Python driver and workers) after two
micro-batches and restarted. No labels are sent, so features cannot depend on how
micro-batches happen to split the two topics.
"""
from __future__ import annotations

import signal
import subprocess
import time

import pytest

from generator.simulator import SimulationParams, generate
from pipeline.scoring_query import start_scoring_query
from producer.plan import INVALID, LABEL, PAYMENT, build_plan
from producer.sender import send_plan
from services.topics import ensure_topics
from tests.job_runner import job_command, write_job_config

pytestmark = pytest.mark.integration


def decisions_of(connection, prefix: str) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT transaction_id, decision, reasons, score FROM scored_transactions "
                       "WHERE transaction_id LIKE %s", (prefix + "%",))
        return {t[len(prefix):]: (d, r, round(s, 12)) for t, d, r, s in cursor.fetchall()}


def scored_count(connection, prefix: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM scored_transactions WHERE transaction_id LIKE %s", (prefix + "%",))
        return cursor.fetchone()[0]


def test_kill_9_and_restart_loses_and_duplicates_nothing(spark, isolated_config, mysql_connection,
                                                        unique_id, tmp_path):
    dataset, _ = generate(SimulationParams(n_customers=200, n_terminals=200, n_days=20, radius=10, seed=31))
    total = len(dataset)
    killed_topic = f"killed-{unique_id}"
    ensure_topics(isolated_config.kafka, [killed_topic])
    for prefix, topic in ((f"{unique_id}-a-", isolated_config.kafka.topics.payments),
                          (f"{unique_id}-b-", killed_topic)):
        plan = build_plan(dataset.assign(transaction_id=prefix + dataset["transaction_id"]))
        assert send_plan(plan, isolated_config.kafka.bootstrap_servers,
                         {PAYMENT: topic, INVALID: topic, LABEL: isolated_config.kafka.topics.labels}).failed == 0

    reference = start_scoring_query(spark, isolated_config, {"availableNow": True})
    reference.awaitTermination(600)
    assert reference.exception() is None

    config_path = write_job_config(isolated_config, tmp_path, max_offsets_per_trigger=1500,
                                   trigger_interval="1 second")
    checkpoint = tmp_path / "killed-checkpoint"
    log = open(tmp_path / "job.log", "wb")

    job = subprocess.Popen(job_command(config_path, checkpoint, topic=killed_topic), stdout=log, stderr=log,
                           start_new_session=True)
    deadline = time.monotonic() + 240
    while scored_count(mysql_connection, f"{unique_id}-b-") < 3000 and time.monotonic() < deadline:
        assert job.poll() is None, (tmp_path / "job.log").read_text()[-3000:]
        time.sleep(0.5)
    stored_before_kill = scored_count(mysql_connection, f"{unique_id}-b-")
    subprocess.run(["pkill", "-KILL", "-s", str(job.pid)], check=False)  # the whole session: JVM, driver, workers
    job.wait(30)
    assert 0 < stored_before_kill < total, "the job must be killed mid-stream"

    restarted = subprocess.run(job_command(config_path, checkpoint, "--available-now", topic=killed_topic),
                               stdout=log, stderr=log, timeout=600)
    assert restarted.returncode == 0, (tmp_path / "job.log").read_text()[-3000:]

    with mysql_connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*), COUNT(DISTINCT transaction_id) FROM scored_transactions "
                       "WHERE transaction_id LIKE %s", (f"{unique_id}-b-%",))
        assert cursor.fetchone() == (total, total)
    assert decisions_of(mysql_connection, f"{unique_id}-b-") == decisions_of(mysql_connection, f"{unique_id}-a-")


def test_sigterm_stops_the_job_after_the_current_batch_commits(local_services, isolated_config, tmp_path,
                                                              mysql_connection, unique_id):
    topic = isolated_config.kafka.topics.payments
    dataset, _ = generate(SimulationParams(n_customers=50, n_terminals=50, n_days=5, radius=20, seed=41))
    plan = build_plan(dataset.assign(transaction_id=f"{unique_id}-" + dataset["transaction_id"]))
    send_plan(plan, isolated_config.kafka.bootstrap_servers, {PAYMENT: topic, INVALID: topic, LABEL: topic})
    config_path = write_job_config(isolated_config, tmp_path)
    log_path = tmp_path / "job.log"
    with open(log_path, "wb") as log:
        job = subprocess.Popen(job_command(config_path, tmp_path / "checkpoint"), stdout=log,
                               stderr=log, start_new_session=True)
        deadline = time.monotonic() + 180
        while scored_count(mysql_connection, f"{unique_id}-") < len(dataset) and time.monotonic() < deadline:
            assert job.poll() is None, log_path.read_text()[-3000:]
            time.sleep(0.5)
        job.send_signal(signal.SIGTERM)
        assert job.wait(120) == 0, log_path.read_text()[-3000:]
    text = log_path.read_text()
    assert "received SIGTERM: stopping after the current micro-batch commits" in text
    assert "query stopped" in text and "progress batch" in text
