"""At start: the checkpoint and the database must be in step, or the job says so and stops.

* A checkpoint lost (or replaced) while the database was kept: the location's registered
  stream has committed batches, but the checkpoint is empty or holds another stream. A new
  stream would read Kafka again from `starting_offsets` (rows twice under two stream ids, or
  payments skipped) and start its state empty.
* A database restored to an older point than the checkpoint: the checkpoint's last committed
  micro-batch has no ledger row. Spark never replays a committed batch, so its rows would be
  missing for good.
Either way the job refuses to start with what it found, unless started with
--accept-checkpoint-mismatch, which logs it and goes on (and registers the new stream).
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

from pyspark.sql import SparkSession

from core.config import MySqlConfig
from sinks.mysql_connection import ReusedConnection, named_statements
from sinks.mysql_sink import COMMIT_SQL

log = logging.getLogger(__name__)


class CheckpointMismatch(RuntimeError):
    """The checkpoint and the database disagree about what the stream has committed."""


@dataclass(frozen=True)
class CheckpointState:
    """What a checkpoint holds: its stream id (None when new) and its last committed batch."""

    stream_id: str | None
    last_committed: int | None


def location_key(location: str) -> str:
    return hashlib.sha256(str(location).encode("utf-8")).hexdigest()


def read_checkpoint(spark: SparkSession, location: str) -> CheckpointState:
    """The checkpoint's metadata id and highest commits/ entry, through Hadoop's FileSystem (so
    any checkpoint URI works: local, hdfs://, s3a://)."""
    jvm = spark.sparkContext._jvm
    root = jvm.org.apache.hadoop.fs.Path(str(location))
    fs = root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    metadata = jvm.org.apache.hadoop.fs.Path(root, "metadata")
    if not fs.exists(metadata):
        return CheckpointState(None, None)
    stream = fs.open(metadata)
    try:
        text = jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
    finally:
        stream.close()
    stream_id = json.loads(text.splitlines()[0])["id"]
    commits = jvm.org.apache.hadoop.fs.Path(root, "commits")
    batches = [int(status.getPath().getName()) for status in (fs.listStatus(commits) if fs.exists(commits) else [])
               if status.getPath().getName().isdigit()]
    return CheckpointState(stream_id, max(batches) if batches else None)


def mismatch(location: str, checkpoint: CheckpointState, registered: str | None,
             registered_batches: tuple[int, int | None], ledger_has_last: bool) -> str | None:
    """What is out of step, in words, or None."""
    count, last = registered_batches
    if registered is not None and registered != checkpoint.stream_id and count:
        found = "is empty" if checkpoint.stream_id is None else f"holds another stream ({checkpoint.stream_id})"
        return (f"the checkpoint {location} {found}, but the database holds {count} committed micro-batches "
                f"(the last {last}) of stream {registered} written from it: was the checkpoint lost or replaced? "
                "A new stream would read Kafka again from stream.starting_offsets and start its state empty")
    if checkpoint.last_committed is not None and not ledger_has_last:
        return (f"the checkpoint {location} has committed micro-batch {checkpoint.last_committed} of stream "
                f"{checkpoint.stream_id}, but the database has no ledger row for it: was the database restored to an "
                "older point? Spark never replays a committed batch, so its rows would stay missing")
    return None


class CheckpointGuard:
    """Checks a checkpoint against the database before a start, and registers its stream after."""

    def __init__(self, mysql: MySqlConfig, location: str):
        self.location = str(location)
        self.key = location_key(self.location)
        self.statements = named_statements(COMMIT_SQL)
        self.connection = ReusedConnection(mysql)

    def check(self, spark: SparkSession, accept: bool) -> None:
        """CheckpointMismatch when out of step (a warning instead when accepted)."""
        checkpoint = read_checkpoint(spark, self.location)
        with self.connection.cursor() as cursor:
            cursor.execute(self.statements["checkpoint_stream"], {"location_key": self.key})
            row = cursor.fetchone()
            registered = row[0] if row else None
            cursor.execute(self.statements["stream_batch_count"], {"stream_id": registered or ""})
            registered_batches = cursor.fetchone()
            ledger_has_last = True
            if checkpoint.last_committed is not None:
                cursor.execute(self.statements["batch_committed"],
                               {"stream_id": checkpoint.stream_id, "batch_id": checkpoint.last_committed})
                ledger_has_last = cursor.fetchone() is not None
        problem = mismatch(self.location, checkpoint, registered, registered_batches, ledger_has_last)
        if problem and not accept:
            raise CheckpointMismatch(problem + "; start with --accept-checkpoint-mismatch to go on anyway")
        if problem:
            log.warning("going on although %s (--accept-checkpoint-mismatch)", problem)

    def register(self, stream_id: str) -> None:
        """Record that this location holds stream_id (after the query has started)."""
        with self.connection.cursor() as cursor:
            cursor.execute(self.statements["register_checkpoint"],
                           {"location_key": self.key, "location": self.location, "stream_id": stream_id})
