"""What every benchmark run does: fresh topics, preloaded payments, the job under spark-submit,
and the figures read back from the batch ledger."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from core.config import PROJECT_ROOT, AppConfig
from services.grants import side_database
from services.topics import ensure_topics
from sinks.mysql_connection import connect, named_statements

PYTHON = sys.executable
SPARK_SUBMIT = str(PROJECT_ROOT / "scripts" / "spark-submit")
TX_PER_GENERATED_DAY = 9_500  # the generator's default population makes about 9,800 a day
BENCH_DATABASE = "payments_jobbench"
QUERY_STARTED = "streaming query started"  # the job's log line once its query runs (jobs/score_payments.py)


@dataclass(frozen=True)
class BenchRun:
    """One benchmark run's names: topics, id prefix, checkpoint, log, and the database the job
    writes to (None: the configured one)."""

    name: str
    database: str | None = None

    @property
    def payments_topic(self) -> str:
        return f"payments-{self.name}"

    @property
    def labels_topic(self) -> str:
        return f"labels-{self.name}"

    @property
    def checkpoint(self) -> Path:
        return PROJECT_ROOT / "state" / "checkpoints" / self.name

    @property
    def log_file(self) -> Path:
        return PROJECT_ROOT / "state" / "logs" / f"{self.name}.log"

    def job_environment(self) -> dict[str, str]:
        """Environment of the run's Spark processes: MYSQL_DATABASE points them at its database."""
        return {**os.environ, **({"MYSQL_DATABASE": self.database} if self.database else {})}

    def query_starts(self) -> int:
        """How many times a job of this run has logged a running query (restarts append to the log)."""
        return self.log_file.read_text(errors="replace").count(QUERY_STARTED) if self.log_file.exists() else 0

    def stream_id(self) -> str:
        """The streaming query's id, which the ledger rows carry (from the checkpoint)."""
        return json.loads((self.checkpoint / "metadata").read_text())["id"]


def new_run(kind: str, database: str | None = None) -> BenchRun:
    return BenchRun(f"bench{kind}{time.strftime('%Y%m%d%H%M%S')}", database)


def add_database_option(parser) -> None:
    parser.add_argument("--database", default=BENCH_DATABASE,
                        help=f"database the job writes to, made empty first (default {BENCH_DATABASE}); "
                             "the configured one (e.g. payments) is used as it is, with its history")


def run_database(config: AppConfig, name: str) -> tuple[AppConfig, str | None]:
    """(config for the run, database for the job's environment): a benchmark database made
    empty, so runs compare (the MySQL write slows down as scored_transactions grows: measured on
    the project's database, 20.8k tx/s end to end at about 13M rows, 14.2k at about 17M), or
    the configured one as it is."""
    if name == config.mysql.database:
        return config, None
    return bench_database(config, name, empty=True), name


def bench_database(config: AppConfig, name: str, empty: bool) -> AppConfig:
    """The config pointed at a benchmark database (created if missing, dropped first when
    `empty`), with the project's migrations applied."""
    return side_database(config, name, empty)


def create_topics(config: AppConfig, run: BenchRun, partitions: int) -> None:
    ensure_topics(config.kafka, [run.payments_topic, run.labels_topic], partitions)


def producer_command(run: BenchRun, messages: int, extra: list[str] = ()) -> list[str]:
    """`python -m producer` sending `messages` generated payments (+ fraud labels) to the run's topics."""
    days = math.ceil(messages / TX_PER_GENERATED_DAY) + 3
    return [PYTHON, "-m", "producer", "--generate", "--n-days", str(days), "--limit", str(messages),
            "--labels", "fraud", "--quiet", "--topic", run.payments_topic, "--labels-topic", run.labels_topic,
            "--id-prefix", f"{run.name}-", *extra]


def preload(run: BenchRun, messages: int) -> None:
    subprocess.run(producer_command(run, messages), cwd=PROJECT_ROOT, check=True)


def job_command(run: BenchRun, job_args: list[str], submit_args: list[str] = ()) -> list[str]:
    return [SPARK_SUBMIT, *submit_args, "jobs/score_payments.py", "--checkpoint", str(run.checkpoint),
            "--payments-topic", run.payments_topic, "--labels-topic", run.labels_topic, *job_args]


def start_job(run: BenchRun, job_args: list[str], submit_args: list[str] = (),
              append_log: bool = False) -> subprocess.Popen:
    """The job under spark-submit in its own session (so a stop reaches all of it), logging to a file."""
    run.log_file.parent.mkdir(parents=True, exist_ok=True)
    log = run.log_file.open("a" if append_log else "w")
    return subprocess.Popen(job_command(run, job_args, submit_args), cwd=PROJECT_ROOT, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True, env=run.job_environment())


def ledger_totals(config: AppConfig, stream_id: str) -> dict:
    """Batches, rows and the first start / last commit of a stream, from stream_batches."""
    sql = named_statements("bench.sql")
    with connect(config.mysql, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(sql["stream_totals"], {"stream_id": stream_id})
        names = [column[0] for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def row_latencies_ms(config: AppConfig, stream_id: str,
                     warm_up_seconds: float) -> tuple[list[float], list[float]]:
    """Per-row latency, producer send time (Kafka timestamp) to MySQL commit, of every scored
    row: those sent in the first warm_up_seconds of the load, and the rest."""
    sql = named_statements("bench.sql")
    with connect(config.mysql, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(sql["row_latencies"], {"stream_id": stream_id})
        rows = cursor.fetchall()
    if not rows:
        return [], []
    split_at = min(sent_at for sent_at, _ in rows) + timedelta(seconds=warm_up_seconds)
    before = [float(latency_ms) for sent_at, latency_ms in rows if sent_at < split_at]
    after = [float(latency_ms) for sent_at, latency_ms in rows if sent_at >= split_at]
    return before, after


def scored_rows_estimate(config: AppConfig) -> int:
    """About how many rows scored_transactions holds (index maintenance grows with it)."""
    sql = named_statements("bench.sql")
    with connect(config.mysql, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(sql["table_rows"])
        return int(cursor.fetchone()[0] or 0)
