"""foreachBatch sink: Spark's JDBC writer stages a micro-batch, one transaction commits it.

Exactly-once effect: rows are appended to staging tables tagged (stream_id, batch_id);
then a single MySQL transaction moves them into the final tables (keyed, INSERT IGNORE),
writes the batch's ledger row in stream_batches and clears the staging rows. A batch
replayed after a crash either finds its ledger row (skipped) or finds nothing committed
(its leftover staging rows are cleared and it is staged again).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from core.config import MySqlConfig
from sinks.mysql_connection import connect, named_statements

log = logging.getLogger(__name__)

QUERY_ID_PROPERTY = "sql.streaming.queryId"
COMMIT_SQL = "commit_batch.sql"

SplitBatch = Callable[[DataFrame], "tuple[DataFrame, DataFrame]"]


@dataclass(frozen=True)
class BatchResult:
    """What one committed micro-batch did, as recorded in stream_batches."""

    stream_id: str
    batch_id: int
    rows_in: int
    rows_scored: int
    rows_rejected: int
    seconds: float
    skipped: bool = False


def current_stream_id(spark: SparkSession) -> str:
    """The streaming query's id: stable across restarts from one checkpoint, new for a new one."""
    query_id = spark.sparkContext.getLocalProperty(QUERY_ID_PROPERTY)
    if not query_id:
        raise RuntimeError("write_batch must run inside foreachBatch of a streaming query")
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


def make_batch_writer(mysql: MySqlConfig, split_batch: SplitBatch,
                      on_commit: Callable[[BatchResult], None] | None = None
                      ) -> Callable[[DataFrame, int], None]:
    """A foreachBatch function: split_batch turns Kafka records into (scored rows, rejected rows)."""
    statements = named_statements(COMMIT_SQL)

    def write_batch(batch_df: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        started_at = datetime.now(timezone.utc).replace(tzinfo=None)
        key = {"stream_id": current_stream_id(batch_df.sparkSession), "batch_id": batch_id}
        if _already_committed(mysql, statements, key):
            log.info("batch %s already committed; skipped (replay after restart)", batch_id)
            _report(on_commit, BatchResult(**key, rows_in=0, rows_scored=0, rows_rejected=0,
                                           seconds=time.monotonic() - started, skipped=True))
            return
        batch_df = batch_df.persist()
        try:
            rows_in = batch_df.count()
            scored_df, rejected_df = split_batch(batch_df)
            _run(mysql, statements, key, "clear_scored_staging", "clear_rejected_staging")
            jdbc_append(_tagged(scored_df, key), mysql, "scored_transactions_staging")
            jdbc_append(_tagged(rejected_df, key), mysql, "rejected_payments_staging")
            scored, rejected = _commit(mysql, statements, key, rows_in, started_at)
        finally:
            batch_df.unpersist()
        result = BatchResult(**key, rows_in=rows_in, rows_scored=scored, rows_rejected=rejected,
                             seconds=time.monotonic() - started)
        log.info("batch %d: %d in, %d scored, %d rejected, %.2f s, %.0f rows/s",
                 batch_id, rows_in, scored, rejected, result.seconds,
                 rows_in / result.seconds if result.seconds else 0.0)
        _report(on_commit, result)

    return write_batch


def _tagged(frame: DataFrame, key: dict) -> DataFrame:
    return frame.select(F.lit(key["stream_id"]).alias("stream_id"),
                        F.lit(key["batch_id"]).cast("long").alias("batch_id"), "*")


def _already_committed(mysql: MySqlConfig, statements: dict, key: dict) -> bool:
    with connect(mysql, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(statements["batch_committed"], key)
        return cursor.fetchone() is not None


def _run(mysql: MySqlConfig, statements: dict, key: dict, *names: str) -> None:
    with connect(mysql, autocommit=True) as connection, connection.cursor() as cursor:
        for name in names:
            cursor.execute(statements[name], key)


def _commit(mysql: MySqlConfig, statements: dict, key: dict, rows_in: int,
            started_at: datetime) -> tuple[int, int]:
    """Move the staged rows into the final tables and write the ledger row, atomically."""
    with connect(mysql) as connection:
        try:
            with connection.cursor() as cursor:
                scored = cursor.execute(statements["move_scored"], key)
                rejected = cursor.execute(statements["move_rejected"], key)
                cursor.execute(statements["record_batch"], {
                    **key, "rows_in": rows_in, "rows_scored": scored,
                    "rows_rejected": rejected, "started_at": started_at})
                cursor.execute(statements["clear_scored_staging"], key)
                cursor.execute(statements["clear_rejected_staging"], key)
            connection.commit()
        except Exception:
            connection.rollback()
            raise
    return scored, rejected


def _report(on_commit: Callable[[BatchResult], None] | None, result: BatchResult) -> None:
    if on_commit is not None:
        on_commit(result)
