"""The real scoring job (spark-submit in its own process session) driven by tests, and the
accounting check they share: every Kafka record in exactly one of scored_transactions /
rejected_payments, none twice."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import yaml
from confluent_kafka import Consumer, TopicPartition

from core.config import DEFAULT_CONFIG_PATH, PROJECT_ROOT, AppConfig

STARTED_MARK = "streaming query started"


def stream_id_of(checkpoint: Path) -> str | None:
    """The streaming query id a checkpoint belongs to (the ledger's stream_id), None before it exists."""
    metadata = checkpoint / "metadata"
    return json.loads(metadata.read_text())["id"] if metadata.exists() else None


def write_job_config(config: AppConfig, folder: Path, mysql: dict | None = None, model: dict | None = None,
                     **stream) -> Path:
    """A YAML config for a job subprocess: the test's topics, no Spark UI, stream (mysql, model) overrides."""
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    topics = config.kafka.topics
    raw["kafka"]["topics"].update(payments=topics.payments, labels=topics.labels, alerts=topics.alerts,
                                  dlq=topics.dlq)
    raw["stream"].update(stream)
    raw["mysql"].update(mysql or {})
    raw["model"].update(model or {})
    raw["spark"]["ui_enabled"] = False
    path = folder / "job.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def job_command(config_path: Path, checkpoint: Path, *extra: str, topic: str | None = None) -> list[str]:
    return [str(PROJECT_ROOT / "scripts" / "spark-submit"), "--master", "local[2]",
            str(PROJECT_ROOT / "jobs" / "score_payments.py"), "--config", str(config_path),
            "--checkpoint", str(checkpoint), *(["--payments-topic", topic] if topic else []), *extra]


class ScoringJob:
    """One spark-submit of the job; its output goes to log_path (appended across runs)."""

    def __init__(self, config_path: Path, checkpoint: Path, log_path: Path, *extra: str, env: dict | None = None):
        self.log_path = log_path
        self.marks_before = self._started_marks()
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(job_command(config_path, checkpoint, *extra), stdout=log,
                                            stderr=log, start_new_session=True,
                                            env={**os.environ, **env} if env else None)

    def _started_marks(self) -> int:
        return self.log_path.read_text(errors="replace").count(STARTED_MARK) if self.log_path.exists() else 0

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def wait_started(self, timeout: float = 240) -> None:
        """Until this run's query has started (start-up done)."""
        deadline = time.monotonic() + timeout
        while self._started_marks() <= self.marks_before:
            assert self.process.poll() is None, f"the job stopped while starting:\n{self.log_tail()}"
            assert time.monotonic() < deadline, f"the job did not start in {timeout:.0f} s:\n{self.log_tail()}"
            time.sleep(0.5)

    def kill_9(self) -> None:
        """SIGKILL to the job's whole session: JVM, Python driver and workers."""
        subprocess.run(["pkill", "-KILL", "-s", str(self.process.pid)], check=False)
        self.process.wait(30)

    def stop(self, timeout: float = 120) -> int:
        """SIGTERM: the job stops after the batch in progress commits."""
        self.process.terminate()
        return self.process.wait(timeout)

    def wait(self, timeout: float = 900) -> int:
        return self.process.wait(timeout)


def produce_generated(config: AppConfig, messages: int, prefix: str, *extra: str) -> None:
    """`python -m producer`: generated payments (+ fraud labels) into the test's topics."""
    days = messages // 9_000 + 3
    subprocess.run([sys.executable, "-m", "producer", "--generate", "--n-days", str(days), "--limit", str(messages),
                    "--labels", "fraud", "--quiet", "--topic", config.kafka.topics.payments,
                    "--labels-topic", config.kafka.topics.labels, "--id-prefix", prefix, *extra],
                   cwd=PROJECT_ROOT, check=True, stdout=subprocess.DEVNULL)


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"offsets-{random.random()}"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
    finally:
        consumer.close()


def stored_positions(connection, topic: str, prefix: str) -> list[tuple[int, int]]:
    """(partition, offset) of every stored row that came from the topic: scored and rejected."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT kafka_partition, kafka_offset FROM scored_transactions WHERE transaction_id LIKE %s",
                       (prefix + "%",))
        scored = list(cursor.fetchall())
        cursor.execute("SELECT kafka_partition, kafka_offset FROM rejected_payments WHERE kafka_topic = %s", (topic,))
        return scored + list(cursor.fetchall())


def assert_each_record_once(connection, config: AppConfig, prefix: str) -> int:
    """Every record of the payments topic is stored exactly once (scored or rejected); returns their number."""
    topic = config.kafka.topics.payments
    expected = sorted((p, o) for p, end in end_offsets(config.kafka.bootstrap_servers, topic).items()
                      for o in range(end))
    stored = sorted(stored_positions(connection, topic, prefix))
    duplicated = len(stored) - len(set(stored))
    missing = set(expected) - set(stored)
    assert duplicated == 0 and not missing and len(stored) == len(expected), (
        f"{len(expected)} records sent, {len(stored)} stored: {duplicated} twice, {len(missing)} missing "
        f"(first missing: {sorted(missing)[:5]})")
    return len(expected)


def wait_until(condition, timeout: float, what: str, job: ScoringJob | None = None, every: float = 1.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if job is not None:
            assert job.process.poll() is None, f"the job stopped while waiting for {what}:\n{job.log_tail()}"
        assert time.monotonic() < deadline, f"no {what} within {timeout:.0f} s" + (
            f":\n{job.log_tail()}" if job else "")
        time.sleep(every)


def label_positions(connection, config: AppConfig, prefix: str) -> list[tuple[int, int]]:
    """(partition, offset) of every stored record of the labels topic: fraud_labels and rejected."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT kafka_partition, kafka_offset FROM fraud_labels WHERE transaction_id LIKE %s",
                       (prefix + "%",))
        stored = list(cursor.fetchall())
        cursor.execute("SELECT kafka_partition, kafka_offset FROM rejected_payments WHERE kafka_topic = %s",
                       (config.kafka.topics.labels,))
        return stored + list(cursor.fetchall())


def topic_keys(bootstrap: str, topic: str) -> set[str]:
    """The distinct keys of every message the topic holds (an at-least-once output may repeat one)."""
    from tests.kafka_helpers import consume_to_end

    return {message.key().decode() for message in consume_to_end(bootstrap, topic)}


def assert_side_outputs_once(connection, config: AppConfig, prefix: str) -> None:
    """After a job has stopped: every labels-topic record stored once; every REVIEW/DECLINED
    payment has one alert row, published, and is on the alerts topic; every rejected message
    is on the dead-letter topic (at least once, keyed, so consumers dedupe)."""
    topics, bootstrap = config.kafka.topics, config.kafka.bootstrap_servers
    labels = sorted(label_positions(connection, config, prefix))
    expected = sorted((p, o) for p, end in end_offsets(bootstrap, topics.labels).items() for o in range(end))
    assert labels == expected, f"{len(expected)} label records sent, {len(labels)} stored ({len(set(labels))} distinct)"
    with connection.cursor() as cursor:
        cursor.execute("SELECT transaction_id FROM scored_transactions WHERE transaction_id LIKE %s "
                       "AND decision <> 'APPROVED'", (prefix + "%",))
        flagged = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT transaction_id, published_at IS NOT NULL FROM payment_alerts "
                       "WHERE transaction_id LIKE %s", (prefix + "%",))
        alerts = dict(cursor.fetchall())
        cursor.execute("SELECT CONCAT_WS('/', kafka_topic, kafka_partition, kafka_offset) FROM rejected_payments "
                       "WHERE kafka_topic IN (%s, %s)", (topics.payments, topics.labels))
        rejected = {row[0] for row in cursor.fetchall()}
    assert flagged and set(alerts) == flagged, f"{len(flagged)} payments flagged, {len(alerts)} alert rows"
    assert all(alerts.values()), f"{sum(not p for p in alerts.values())} alerts not published"
    assert topic_keys(bootstrap, topics.alerts) == flagged
    assert rejected and topic_keys(bootstrap, topics.dlq) == rejected
