"""foreachBatch sink: the executors append a micro-batch's rows to their tables in one pass,
then one MySQL transaction on the driver writes the batch's ledger row.

Exactly-once effect:
* every row is tagged with the streaming query's id (stream_id, stable for a checkpoint) and
  the batch id, and appended into a keyed table: scored payments (transaction_id), fraud labels
  (transaction_id, partition, offset), rejected messages (topic, partition, offset), each
  executor's rows in one transaction (sinks/jdbc.py); a key already stored is skipped, a row the
  database refuses (a constraint, a trigger) is quarantined in rejected_payments with the error;
* then ONE transaction copies the batch's alerts into payment_alerts and writes its ledger
  row in stream_batches (counts, decisions, latency).
A batch replayed after a crash either finds its ledger row (nothing is written again) or does
not: then the rows its earlier attempt appended are deleted and the batch is written again.
Spark replays a batch with the same records, and the stateful operators recompute it from
the state as of the batch before (their own checkpoint), so the rewritten rows are the same.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from core.config import MySqlConfig
from events.contract import Reason
from events.schemas import BATCH_TAG_COLUMNS, DECISION_COLUMNS, FRAUD_LABEL_SCHEMA, PAYMENT_SCHEMA, REJECTED_SCHEMA
from sinks.jdbc import append_routed
from sinks.mysql_connection import ReusedConnection, named_statements
from sinks.stream_fence import StreamFence

QUERY_ID_PROPERTY = "sql.streaming.queryId"
COMMIT_SQL = "commit_batch.sql"
SCORED_TABLE = "scored_transactions"
LABELS_TABLE = "fraud_labels"
REJECTED_TABLE = "rejected_payments"
SCORE_BINS = 20  # the ledger's score histogram: bins of 0.05
DECISIONS = ("APPROVED", "REVIEW", "DECLINED")
LATENCY_QUANTILES = (0.5, 0.05, 0.01)  # of send times: latency p50, p95, p99
SINK_TABLE = "sink_table"  # the table a row of the batch goes to (NULL: none, a resend)
_STREAM_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(frozen=True)
class BatchKey:
    """A micro-batch of one streaming query (stream_id = query id, stable for a checkpoint)."""

    stream_id: str
    batch_id: int

    def __post_init__(self):
        if not _STREAM_ID.match(self.stream_id) or not isinstance(self.batch_id, int):
            raise ValueError(f"not a batch key: {self.stream_id!r}, {self.batch_id!r}")

    def params(self) -> dict:
        return {"stream_id": self.stream_id, "batch_id": self.batch_id}

    def in_sql(self, statement: str) -> str:
        """The statement with the key as literals, for Spark's JDBC reader (which binds no
        parameters); the key's characters are checked above, so it cannot end a literal."""
        return (statement.replace("%(stream_id)s", f"'{self.stream_id}'")
                .replace("%(batch_id)s", str(int(self.batch_id))))


@dataclass(frozen=True)
class BatchFigures:
    """What a micro-batch held, counted by the executors while they wrote it (an Observation)."""

    rows_in: int
    payments: int         # scored payments written
    resent: int           # repeats of a transaction already seen, same content: counted, not stored
    conflicts: int        # repeats with other content: rejected as DUPLICATE_CONFLICT
    labels: int
    rejected: int         # invalid messages
    late_rows: int
    rule_errors: int      # payments for which a decision rule raised (counted as not fired)
    sent_quantiles_us: tuple[int, ...]  # send times of the scored payments at LATENCY_QUANTILES
    first_sent_us: int | None
    quarantined_payments: int = 0  # refused by the database: in rejected_payments as UNWRITABLE_RECORD
    quarantined_labels: int = 0

    @staticmethod
    def of(metrics: dict, quarantined: dict[str, int] | None = None) -> BatchFigures:
        quarantined = quarantined or {}
        return BatchFigures(
            **{name: int(metrics.get(name) or 0) for name in
               ("rows_in", "payments", "resent", "conflicts", "labels", "rejected", "late_rows", "rule_errors")},
            sent_quantiles_us=tuple(int(v) for v in (metrics.get("sent_quantiles") or ())),
            first_sent_us=metrics.get("first_sent_us"),
            quarantined_payments=quarantined.get(SCORED_TABLE, 0), quarantined_labels=quarantined.get(LABELS_TABLE, 0))

    @property
    def quarantined(self) -> int:
        return self.quarantined_payments + self.quarantined_labels


@dataclass(frozen=True)
class Skipped:
    """Written payments that the append skipped because their transaction_id was already
    stored (by another stream, or beyond the operators' memory): sinks/resends.py."""

    resent: int = 0
    conflicts: int = 0


@dataclass(frozen=True)
class CommitResult:
    """What a committed batch stored (rows per kind) and its send-to-commit latency."""

    stored: dict[str, int]
    latency: dict[str, int | None]


def current_stream_id(spark: SparkSession) -> str:
    """The streaming query's id: stable across restarts from one checkpoint, new for a new one."""
    query_id = spark.sparkContext.getLocalProperty(QUERY_ID_PROPERTY)
    if not query_id:
        raise RuntimeError("the batch writer must run inside foreachBatch of a streaming query")
    return query_id


def batch_metrics() -> list[Column]:
    """The counts of BatchFigures, over every record of a batch."""
    scored = F.col("is_scored")
    sent_us = F.unix_micros("kafka_timestamp")
    valid = F.col("reason_code").isNull()
    return [F.count(F.lit(1)).alias("rows_in"),
            F.count_if(scored).alias("payments"),
            F.count_if(F.col("duplicate_of") == "RESENT").alias("resent"),
            F.count_if(F.col("duplicate_of") == "CONFLICT").alias("conflicts"),
            F.count_if(valid & F.col("is_label")).alias("labels"),
            F.count_if(~valid).alias("rejected"),
            F.count_if(scored & (F.col("is_late") == 1)).alias("late_rows"),
            F.count_if(scored & F.col("rule_errors").isNotNull()).alias("rule_errors"),
            F.percentile_approx(F.when(scored, sent_us), list(LATENCY_QUANTILES), 10_000).alias("sent_quantiles"),
            F.min(F.when(scored, sent_us)).alias("first_sent_us")]


def with_batch_tags(key: BatchKey):
    """Transform: + stream_id and batch_id of the batch the rows belong to."""
    def transform(rows_df: DataFrame) -> DataFrame:
        return rows_df.withColumns({"stream_id": F.lit(key.stream_id), "batch_id": F.lit(key.batch_id)})
    return transform


def sink_table_columns() -> dict[str, Column]:
    """sink_table: scored payments, valid labels and rejected messages (invalid ones, and the
    repeats of a transaction id with other content as DUPLICATE_CONFLICT) each to their table;
    a resend (same content) to none. With the reason of a conflict."""
    conflict = F.col("duplicate_of") == "CONFLICT"
    label = F.col("reason_code").isNull() & F.col("is_label")
    conflict_message = F.concat(F.lit("transaction_id "), F.col("transaction_id"),
                                F.lit(" was already scored with other content (an earlier message of its customer)"))
    table = (F.when(F.col("is_scored"), F.lit(SCORED_TABLE)).when(label, F.lit(LABELS_TABLE))
             .when(F.col("reason_code").isNotNull() | conflict, F.lit(REJECTED_TABLE)))
    return {"reason_code": F.when(conflict, F.lit(Reason.DUPLICATE_CONFLICT)).otherwise(F.col("reason_code")),
            "reason_message": F.when(conflict, conflict_message).otherwise(F.col("reason_message")),
            SINK_TABLE: table}


def table_columns(feature_names: list[str]) -> dict[str, list[str]]:
    """The columns each table takes from the batch's rows."""
    return {SCORED_TABLE: [*PAYMENT_SCHEMA.fieldNames(), *feature_names, *DECISION_COLUMNS, *BATCH_TAG_COLUMNS],
            LABELS_TABLE: [*FRAUD_LABEL_SCHEMA.fieldNames(), *BATCH_TAG_COLUMNS],
            REJECTED_TABLE: [*REJECTED_SCHEMA.fieldNames(), *BATCH_TAG_COLUMNS]}


class MySqlBatchSink:
    """Appends a batch's rows through the executors and commits it with its ledger row."""

    def __init__(self, mysql: MySqlConfig, feature_names: list[str], fence: StreamFence):
        self.mysql = mysql
        self.fence = fence
        self.feature_names = list(feature_names)
        self.statements = named_statements(COMMIT_SQL)
        self.connection = ReusedConnection(mysql)
        # Built once: every column built is a round trip to the JVM, a micro-batch's time.
        self.metrics = batch_metrics()
        self.routing = sink_table_columns()
        self.columns = table_columns(self.feature_names)

    def is_committed(self, key: BatchKey) -> bool:
        with self.connection.cursor() as cursor:
            cursor.execute(self.statements["batch_committed"], key.params())
            return cursor.fetchone() is not None

    def clear_attempt(self, key: BatchKey) -> None:
        """Delete the rows an earlier, uncommitted attempt of this batch appended (only while
        this driver holds the stream's lock: they may be another driver's otherwise)."""
        self.fence.verify()

        def clear(cursor) -> None:
            for statement in ("clear_scored", "clear_labels", "clear_rejected"):
                cursor.execute(self.statements[statement], key.params())
        self.connection.transaction(clear, f"clearing batch {key.batch_id}'s earlier attempt")

    def append(self, batch_df: DataFrame, key: BatchKey) -> BatchFigures:
        """The batch's scored payments, labels and rejected messages, appended by the executors
        in one pass, and counted while they go (an Observation)."""
        observation = Observation(f"payscore_batch_{key.batch_id}")
        routed_df = batch_df.observe(observation, *self.metrics).withColumns(
            {**self.routing, "stream_id": F.lit(key.stream_id), "batch_id": F.lit(key.batch_id)})
        quarantined = append_routed(routed_df, SINK_TABLE, self.columns, self.mysql,
                                    quarantine=(REJECTED_TABLE, Reason.UNWRITABLE_RECORD))
        return BatchFigures.of(observation.get, quarantined)

    def landed(self, key: BatchKey) -> int:
        """Scored rows of this batch in scored_transactions."""
        with self.connection.cursor() as cursor:
            cursor.execute(self.statements["count_batch_rows"], key.params())
            return int(cursor.fetchone()[0])

    def commit(self, key: BatchKey, figures: BatchFigures, skipped: Skipped, started_at: datetime,
               model_versions: tuple[str, str | None]) -> CommitResult:
        """One transaction: the batch's alerts and its ledger row, with the champion and shadow
        versions that scored it (while this driver holds the stream's lock)."""
        self.fence.verify()
        return self.connection.transaction(
            lambda cursor: self._commit(cursor, key, figures, skipped, started_at, model_versions),
            f"committing batch {key.batch_id}")

    def _commit(self, cursor, key: BatchKey, figures: BatchFigures, skipped: Skipped, started_at: datetime,
                model_versions: tuple[str, str | None]) -> CommitResult:
        """The commit's statements, in the caller's transaction (run again after a deadlock)."""
        cursor.execute(self.statements["database_now"])
        committed_at = cursor.fetchone()[0]
        params = {**key.params(), "committed_at": committed_at}
        cursor.execute(self.statements["count_batch_rows"], params)
        scored = int(cursor.fetchone()[0])
        check_accounted(key, figures, skipped, scored)
        alerts = cursor.execute(self.statements["record_alerts"], params) if scored else 0
        latency = latency_percentiles(figures)
        stored = {"scored": scored,
                  "rejected": figures.rejected + figures.conflicts + skipped.conflicts + figures.quarantined,
                  "duplicates": figures.resent + skipped.resent, "alerts": alerts,
                  "labels": figures.labels - figures.quarantined_labels, "quarantined": figures.quarantined,
                  "rule_errors": figures.rule_errors}
        cursor.execute(self.statements["record_batch"], {
            **key.params(), **self._rollup(cursor, key, scored), **latency,
            "rows_in": figures.rows_in, "rows_scored": scored, "rows_rejected": stored["rejected"],
            "rows_duplicate": stored["duplicates"], "alerts": alerts, "labels_in": stored["labels"],
            "rows_rule_errors": figures.rule_errors, "rows_quarantined": figures.quarantined,
            "late_rows": figures.late_rows, "model_version": model_versions[0],
            "shadow_model_version": model_versions[1], "started_at": started_at})
        return CommitResult(stored, latency)

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


def check_accounted(key: BatchKey, figures: BatchFigures, skipped: Skipped, scored: int) -> None:
    """Every payment written is stored, quarantined, or a resend or conflict of a stored one."""
    if scored + figures.quarantined_payments + skipped.resent + skipped.conflicts != figures.payments:
        raise RuntimeError(f"batch {key.batch_id}: {figures.payments} payments written, {scored} stored, "
                           f"{figures.quarantined_payments} quarantined, {skipped.resent} resent and "
                           f"{skipped.conflicts} conflicting: the rows do not add up (another writer on this stream?)")


def latency_percentiles(figures: BatchFigures) -> dict:
    """Send-to-commit latency of the batch's payments (now = just before the commit), in ms."""
    if not figures.sent_quantiles_us or figures.first_sent_us is None:
        return {"latency_p50_ms": None, "latency_p95_ms": None, "latency_p99_ms": None, "latency_max_ms": None}
    now_us = int(datetime.now(UTC).timestamp() * 1_000_000)
    p50, p95, p99 = ((now_us - sent) // 1000 for sent in figures.sent_quantiles_us)
    return {"latency_p50_ms": p50, "latency_p95_ms": p95, "latency_p99_ms": p99,
            "latency_max_ms": (now_us - int(figures.first_sent_us)) // 1000}


def histogram_json(counts: list[int]) -> str:
    return json.dumps([int(c) for c in counts], separators=(",", ":"))


def utc_now() -> datetime:
    """Naive UTC now, as MySQL DATETIME columns hold it."""
    return datetime.now(UTC).replace(tzinfo=None)
