"""foreachBatch sink: Spark's JDBC writer stages a micro-batch, one transaction commits it.

Exactly-once effect: rows are appended to <table>_staging tagged (stream_id, batch_id);
then a single MySQL transaction moves them into the final tables (keyed, INSERT IGNORE),
writes the batch's ledger row in stream_batches and clears the staging rows. A batch
replayed after a crash either finds its ledger row (skipped) or finds nothing committed
(its leftover staging rows are cleared and it is staged again).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from core.config import MySqlConfig
from sinks.mysql_connection import connect, named_statements

QUERY_ID_PROPERTY = "sql.streaming.queryId"
COMMIT_SQL = "commit_batch.sql"
STAGED_TABLES = ("scored_transactions", "rejected_payments", "fraud_labels")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class CommitResult:
    """What a committed batch moved (rows per final table, "conflicts", "alerts"), the
    send-to-commit latency recorded in its ledger row, and seconds per sink stage."""

    moved: dict[str, int]
    latency: dict[str, int | None]
    seconds: dict[str, float]


@dataclass(frozen=True)
class BatchKey:
    """A micro-batch of one streaming query (stream_id = query id, stable for a checkpoint)."""

    stream_id: str
    batch_id: int

    def params(self) -> dict:
        return {"stream_id": self.stream_id, "batch_id": self.batch_id}


def current_stream_id(spark: SparkSession) -> str:
    """The streaming query's id: stable across restarts from one checkpoint, new for a new one."""
    query_id = spark.sparkContext.getLocalProperty(QUERY_ID_PROPERTY)
    if not query_id:
        raise RuntimeError("the batch writer must run inside foreachBatch of a streaming query")
    return query_id


def jdbc_append(frame: DataFrame, mysql: MySqlConfig, table: str) -> None:
    """Append a frame to a table through Spark's JDBC writer with the server's bulk options."""
    (frame.write.format("jdbc")
        .option("url", mysql.jdbc_url)
        .option("driver", mysql.jdbc_driver)
        .option("dbtable", table)
        .option("user", mysql.user)
        .option("password", mysql.password().reveal())
        .option("batchsize", mysql.jdbc_batch_size)
        .option("isolationLevel", "READ_COMMITTED")
        .mode("append")
        .save())


class MySqlBatchSink:
    """Stages frames per table and commits them with the ledger row in one transaction."""

    def __init__(self, mysql: MySqlConfig, payments_topic: str):
        self.mysql = mysql
        self.payments_topic = payments_topic
        self.statements = named_statements(COMMIT_SQL)

    def is_committed(self, key: BatchKey) -> bool:
        with connect(self.mysql, autocommit=True) as connection, connection.cursor() as cursor:
            cursor.execute(self.statements["batch_committed"], key.params())
            return cursor.fetchone() is not None

    def write(self, key: BatchKey, tables: dict[str, DataFrame], ledger: dict,
              sent_at_us: np.ndarray | None = None) -> CommitResult:
        """Stage every frame, then commit in one transaction.

        sent_at_us: Kafka timestamps (producer send times) of the batch's payments, for the
        ledger's send-to-commit latency percentiles.
        """
        started = time.monotonic()
        self._clear_staging(key, STAGED_TABLES)
        for table, frame in tables.items():
            jdbc_append(frame.select(F.lit(key.stream_id).alias("stream_id"),
                                     F.lit(key.batch_id).cast("long").alias("batch_id"), "*"),
                        self.mysql, f"{_table(table)}_staging")
        staged = time.monotonic()
        latency = latency_percentiles(sent_at_us)
        moved = self._commit(key, {table: frame.columns for table, frame in tables.items()}, {**ledger, **latency})
        return CommitResult(moved, latency, {"score+stage": staged - started, "commit": time.monotonic() - staged})

    def _clear_staging(self, key: BatchKey, tables) -> None:
        with connect(self.mysql, autocommit=True) as connection, connection.cursor() as cursor:
            for table in tables:
                cursor.execute(self.statements["clear_staged"].format(table=_table(table)), key.params())

    def _commit(self, key: BatchKey, columns: dict[str, list[str]], ledger: dict) -> dict[str, int]:
        moved = {}
        params = {**key.params(), "payments_topic": self.payments_topic}
        with connect(self.mysql) as connection:
            try:
                with connection.cursor() as cursor:
                    for table, names in columns.items():
                        column_list = ", ".join(f"`{_column(name)}`" for name in names)
                        moved[table] = cursor.execute(self.statements["move_staged"].format(
                            table=_table(table), columns=column_list), params)
                    conflicts = (cursor.execute(self.statements["reject_conflicts"], params)
                                 if "scored_transactions" in columns else 0)
                    moved["conflicts"] = conflicts
                    moved["alerts"] = cursor.execute(self.statements["record_alerts"], params)
                    for table in columns:
                        cursor.execute(self.statements["clear_staged"].format(table=_table(table)), params)
                    scored = moved.get("scored_transactions", 0)
                    cursor.execute(self.statements["record_batch"], {
                        **key.params(), **ledger,
                        "rows_scored": scored, "alerts": moved["alerts"],
                        "rows_rejected": moved.get("rejected_payments", 0) + conflicts,
                        "rows_duplicate": max(ledger.get("valid_payments", scored) - scored - conflicts, 0)})
                connection.commit()
            except Exception:
                connection.rollback()
                raise
        return moved


def latency_percentiles(sent_at_us: np.ndarray | None) -> dict:
    """Send-to-commit latency of the batch's payments (now = once staged, just before the commit), in ms."""
    if sent_at_us is None or not len(sent_at_us):
        return {"latency_p50_ms": None, "latency_p95_ms": None, "latency_max_ms": None}
    now_us = int(datetime.now(timezone.utc).timestamp() * 1_000_000)
    latency_ms = (now_us - sent_at_us.astype(np.int64)) / 1000.0
    p50, p95, worst = np.percentile(latency_ms, [50, 95, 100])
    return {"latency_p50_ms": int(p50), "latency_p95_ms": int(p95), "latency_max_ms": int(worst)}


def _table(name: str) -> str:
    if name not in STAGED_TABLES:
        raise ValueError(f"the sink does not write table {name!r}; it writes {', '.join(STAGED_TABLES)}")
    return name


def _column(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"column name {name!r} is not a plain lower-case identifier")
    return name


def utc_now() -> datetime:
    """Naive UTC now, as MySQL DATETIME columns hold it."""
    return datetime.now(timezone.utc).replace(tzinfo=None)
