"""foreachBatch sink: Spark's JDBC writer appends the scored payments, one transaction commits the batch.

Exactly-once effect:
* scored payments are appended with INSERT IGNORE (keyed by transaction_id), tagged with the
  streaming query id (stream_id, stable for a checkpoint) and the batch id;
* then ONE MySQL transaction stores what the driver holds (rejected messages, fraud labels,
  duplicate conflicts), copies the batch's alerts and writes its ledger row in stream_batches.
A batch replayed after a crash either finds its ledger row (nothing is written again) or does
not: then the rows its earlier attempt appended are deleted and the batch is written again.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession

from core.config import MySqlConfig
from pipeline.driver_batch import DriverBatch, row_keys
from sinks.mysql_connection import ReusedConnection, named_statements
from sinks.resends import Resolution, missing_rows, resolve, stored_payment

QUERY_ID_PROPERTY = "sql.streaming.queryId"
COMMIT_SQL = "commit_batch.sql"
SCORED_TABLE = "scored_transactions"
WARM_UP_TABLE = "scored_transactions_warm_up"  # the start-up rehearsal's (sql/migrations/010)
DIALECT_CLASS = "io.github.payscore.jdbc.InsertIgnoreMySqlDialect"
ID_CHUNK = 1000
SCORE_BINS = 20  # the ledger's score histogram: bins of 0.05
DECISIONS = ("APPROVED", "REVIEW", "DECLINED")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class DialectMissingError(RuntimeError):
    """The project's JDBC dialect jar is not on Spark's class path."""


class SchemaNotMigratedError(RuntimeError):
    """The database lacks a table of sql/migrations/."""


@dataclass(frozen=True)
class BatchKey:
    """A micro-batch of one streaming query (stream_id = query id, stable for a checkpoint)."""

    stream_id: str
    batch_id: int

    def params(self) -> dict:
        return {"stream_id": self.stream_id, "batch_id": self.batch_id}


@dataclass(frozen=True)
class CommitResult:
    """What a committed batch stored (rows per kind) and the send-to-commit latency recorded in
    its ledger row."""

    stored: dict[str, int]
    latency: dict[str, int | None]


def current_stream_id(spark: SparkSession) -> str:
    """The streaming query's id: stable across restarts from one checkpoint, new for a new one."""
    query_id = spark.sparkContext.getLocalProperty(QUERY_ID_PROPERTY)
    if not query_id:
        raise RuntimeError("the batch writer must run inside foreachBatch of a streaming query")
    return query_id


def register_insert_ignore_dialect(spark: SparkSession) -> None:
    """Make Spark's JDBC appends to MySQL/MariaDB INSERT IGNORE (java/jdbc-dialect)."""
    jvm = spark.sparkContext._jvm
    try:
        dialect = getattr(jvm, DIALECT_CLASS)()
    except Exception as error:  # py4j: class not found
        raise DialectMissingError(f"{DIALECT_CLASS} is not on Spark's class path ({error}); run `make setup`, "
                                  "which builds .deps/spark-jars/payscore-jdbc-dialect.jar") from None
    jvm.org.apache.spark.sql.jdbc.JdbcDialects.registerDialect(dialect)


def jdbc_append(frame: DataFrame, mysql: MySqlConfig, table: str) -> None:
    """Append a frame to a table through Spark's JDBC writer with the server's bulk options."""
    (frame.write.format("jdbc")
        .option("url", mysql.jdbc_url)
        .option("driver", mysql.jdbc_driver)
        .option("dbtable", _identifier(table))
        .option("user", mysql.user)
        .option("password", mysql.password().reveal())
        .option("batchsize", mysql.jdbc_batch_size)
        .option("isolationLevel", "READ_COMMITTED")
        .mode("append")
        .save())


class MySqlBatchSink:
    """Appends scored payments through JDBC and commits each batch with its ledger row."""

    def __init__(self, mysql: MySqlConfig, payments_topic: str):
        self.mysql = mysql
        self.payments_topic = payments_topic
        self.statements = named_statements(COMMIT_SQL)
        self.connection = ReusedConnection(mysql)

    def is_committed(self, key: BatchKey) -> bool:
        with self.connection.cursor() as cursor:
            cursor.execute(self.statements["batch_committed"], key.params())
            return cursor.fetchone() is not None

    def clear_attempt(self, key: BatchKey) -> int:
        """Delete the scored rows an earlier, uncommitted attempt of this batch appended."""
        with self.connection.cursor() as cursor:
            return cursor.execute(self.statements["clear_attempt"], key.params())

    def append_scored(self, scored_df: DataFrame) -> None:
        jdbc_append(scored_df, self.mysql, SCORED_TABLE)

    def rehearse_append(self, scored_df: DataFrame) -> None:
        """The append's path into the warm-up table (rows sharing one transaction_id). Without
        the table Spark would try to create it, and fail on a privilege the job does not need."""
        with self.connection.cursor() as cursor:
            cursor.execute(self.statements["table_exists"], {"table": WARM_UP_TABLE})
            if not cursor.fetchone()[0]:
                raise SchemaNotMigratedError(
                    f"table {WARM_UP_TABLE} is missing in database {self.mysql.database}: apply the migrations "
                    "(make services-up, or python -m services migrate with the admin account)")
        jdbc_append(scored_df, self.mysql, WARM_UP_TABLE)

    def commit(self, key: BatchKey, batch: DriverBatch, written: np.ndarray, ledger: dict) -> CommitResult:
        """One transaction: resends and conflicts, rejected messages, labels, alerts, ledger row.

        written: per payment of batch.payments, whether it was sent to append_scored (the
        engine's duplicates were not). ledger: the batch's figures for stream_batches.
        """
        with self.connection.cursor() as cursor:
            stored = self._commit_rows(cursor, key, batch, written, ledger)
        return CommitResult(stored, {k: v for k, v in ledger.items() if k.startswith("latency_")})

    def _commit_rows(self, cursor, key: BatchKey, batch: DriverBatch, written: np.ndarray, ledger: dict) -> dict:
        cursor.execute(self.statements["database_now"])
        committed_at = cursor.fetchone()[0]
        params = {**key.params(), "committed_at": committed_at}
        cursor.execute(self.statements["count_batch_rows"], params)
        scored = int(cursor.fetchone()[0])
        resolution = self._resolve_resends(cursor, key, batch, written, scored)
        tag = (key.stream_id, key.batch_id, committed_at)
        rejected = [(*row, *tag) for row in rejected_rows(batch.rejected)] + [
            (*row, *tag) for row in resolution.conflicts]
        if rejected:
            cursor.executemany(self.statements["insert_rejected"], rejected)
        labels = [(*row, *tag) for row in label_rows(batch.labels)]
        if labels:
            cursor.executemany(self.statements["insert_labels"], labels)
        alerts = cursor.execute(self.statements["record_alerts"], params) if scored else 0
        cursor.execute(self.statements["record_batch"], {
            **key.params(), **ledger, **self._rollup(cursor, key, scored), "rows_scored": scored, "alerts": alerts,
            "labels_in": len(labels), "rows_rejected": len(rejected), "rows_duplicate": resolution.resent})
        return {"scored": scored, "rejected": len(rejected), "conflicts": len(resolution.conflicts),
                "duplicates": resolution.resent, "alerts": alerts, "labels": len(labels)}

    def _rollup(self, cursor, key: BatchKey, scored: int) -> dict:
        """The batch's decision counts and score histogram, from its stored rows."""
        decisions, bins = dict.fromkeys(DECISIONS, 0), [0] * SCORE_BINS
        if scored:
            cursor.execute(self.statements["batch_rollup"], {**key.params(), "score_bins": SCORE_BINS})
            for decision, score_bin, count in cursor.fetchall():
                decisions[decision] = decisions.get(decision, 0) + int(count)
                if score_bin is not None:
                    bins[int(score_bin)] += int(count)
        return {"rows_approved": decisions["APPROVED"], "rows_review": decisions["REVIEW"],
                "rows_declined": decisions["DECLINED"], "score_histogram": histogram_json(bins)}

    def _resolve_resends(self, cursor, key: BatchKey, batch: DriverBatch, written: np.ndarray,
                         scored: int) -> Resolution:
        """Resends and conflicts among the engine's duplicates and any written row that did not land."""
        expected = int(written.sum())
        if scored > expected:
            raise RuntimeError(f"batch {key.batch_id} holds {scored} scored rows but wrote {expected}; "
                               "an earlier attempt's rows were not cleared")
        positions = np.flatnonzero(~written)
        if scored < expected:
            cursor.execute(self.statements["batch_row_keys"], key.params())
            landed = np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, 2)
            landed = set(row_keys(landed[:, 0], landed[:, 1]).tolist())
            positions = np.union1d(positions, missing_rows(written, batch.payment_keys(), landed))
        if not len(positions):
            return Resolution(0, [])
        ids = sorted(set(batch.payments.column("transaction_id").take(pa.array(positions)).to_pylist()))
        return resolve(batch.payments, positions, self._stored_payments(cursor, ids),
                       key.stream_id, key.batch_id, self.payments_topic)

    def _stored_payments(self, cursor, ids: list[str]) -> dict:
        stored = {}
        for start in range(0, len(ids), ID_CHUNK):
            chunk = ids[start:start + ID_CHUNK]
            cursor.execute(self.statements["stored_payments"].format(ids=", ".join(["%s"] * len(chunk))), chunk)
            stored.update({row[0]: stored_payment(row) for row in cursor.fetchall()})
        return stored


def rejected_rows(rejected: pa.Table) -> list[tuple]:
    """rejected_payments values (REJECTED_SCHEMA order) of the driver's rejected records."""
    return [(r["kafka_topic"], r["kafka_partition"], r["kafka_offset"], _naive_utc(r["kafka_timestamp"]),
             r["reason_code"], r["reason_message"], r["raw_value_prefix"], r["raw_value_length"])
            for r in rejected.to_pylist()]


def label_rows(labels: pa.Table) -> list[tuple]:
    """fraud_labels values of the driver's valid labels."""
    return [(r["transaction_id"], r["customer_id"], r["terminal_id"], _naive_utc(r["event_time"]),
             int(r["is_fraud"]), _naive_utc(r["labeled_at"]), r["kafka_partition"], r["kafka_offset"])
            for r in labels.to_pylist()]


def latency_percentiles(sent_at_us: np.ndarray | None) -> dict:
    """Send-to-commit latency of the batch's payments (now = just before the commit), in ms."""
    if sent_at_us is None or not len(sent_at_us):
        return {"latency_p50_ms": None, "latency_p95_ms": None, "latency_p99_ms": None, "latency_max_ms": None}
    now_us = int(datetime.now(timezone.utc).timestamp() * 1_000_000)
    latency_ms = (now_us - sent_at_us.astype(np.int64)) / 1000.0
    p50, p95, p99, worst = np.percentile(latency_ms, [50, 95, 99, 100])
    return {"latency_p50_ms": int(p50), "latency_p95_ms": int(p95), "latency_p99_ms": int(p99),
            "latency_max_ms": int(worst)}


def histogram_json(counts: list[int]) -> str:
    return json.dumps([int(c) for c in counts], separators=(",", ":"))


def _identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"table name {name!r} is not a plain lower-case identifier")
    return name


def _naive_utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def utc_now() -> datetime:
    """Naive UTC now, as MySQL DATETIME columns hold it."""
    return datetime.now(timezone.utc).replace(tzinfo=None)
