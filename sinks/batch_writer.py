"""The scoring query's foreachBatch function: score a micro-batch, write it exactly once, then publish.

batch (payments with their features, labels, rejected messages; rows on the executors) -> scored
by the models the registry names for this batch (hot swap, pipeline/model_swap.py) -> appended to their
tables in one pass (executors) -> skipped repeats classified, if any (executors) -> ONE MySQL
transaction on the driver (alerts, ledger row) -> alerts and dead letters to Kafka (executors,
in the background). The driver handles counts, never rows.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pyspark.sql import DataFrame

from core.faults import AFTER_APPEND_BEFORE_COMMIT, fault_point
from sinks.kafka_outbox import KafkaOutbox
from sinks.mysql_sink import BatchKey, MySqlBatchSink, Skipped, current_stream_id, utc_now
from sinks.resends import resolve_skipped
from udfs.scoring import ScoringModels

# Before each batch: its models and the transform that scores and decides with them.
BatchScoring = Callable[[], tuple[ScoringModels, Callable[[DataFrame], DataFrame]]]

log = logging.getLogger(__name__)


class StageClock:
    """Seconds spent in each step of a micro-batch, for the batch log line."""

    def __init__(self):
        self.last = time.monotonic()
        self.seconds: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.monotonic()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self.last
        self.last = now

    def describe(self) -> str:
        return " ".join(f"{stage} {seconds:.2f}" for stage, seconds in self.seconds.items())


def advance_state(batch_df: DataFrame) -> None:
    """Run the batch's stateful operators without writing anything: a batch already committed
    to MySQL is replayed by Spark after a crash, and its state must still move on."""
    batch_df.write.format("noop").mode("overwrite").save()


def write_and_commit(featured_df: DataFrame, key: BatchKey, sink: MySqlBatchSink, scoring: BatchScoring,
                     clock: StageClock) -> dict:
    """Clear an earlier attempt's rows, score and append this one's, commit the ledger row."""
    started_at = utc_now()
    models, score = scoring()
    sink.clear_attempt(key)
    figures = sink.append(featured_df.transform(score), key)
    clock.lap("write")
    # Rare (a repeat of an id stored under another customer, by another stream, or long ago): the
    # batch's payments are computed again for it, from the same records and the same state.
    landed = sink.landed(key) + figures.quarantined_payments
    skipped = resolve_skipped(featured_df, key, sink.mysql) if landed < figures.payments else Skipped()
    fault_point(AFTER_APPEND_BEFORE_COMMIT, key.batch_id)
    result = sink.commit(key, figures, skipped, started_at, models.versions)
    clock.lap("commit")
    return {"rows_in": figures.rows_in, **result.stored, **result.latency}


def make_batch_writer(sink: MySqlBatchSink, outbox: KafkaOutbox, scoring: BatchScoring,
                      on_commit: Callable[[dict], None] | None = None) -> Callable[[DataFrame, int], None]:
    """The foreachBatch function of the scoring query (its rows come with their features)."""
    def write_batch(featured_df: DataFrame, batch_id: int) -> None:
        started, clock = time.monotonic(), StageClock()
        key = BatchKey(current_stream_id(featured_df.sparkSession), batch_id)
        if sink.is_committed(key):
            advance_state(featured_df)
            log.info("batch %d was already committed; its state advanced, nothing written", batch_id)
            summary = {"rows_in": 0, "replayed": True}
        else:
            summary = write_and_commit(featured_df, key, sink, scoring, clock)
        outbox.request(featured_df.sparkSession, key)
        summary = {"batch_id": batch_id, "seconds": time.monotonic() - started, "stages": clock.describe(),
                   **summary}
        log_batch(summary)
        if on_commit is not None:
            on_commit(summary)
    return write_batch


def log_batch(summary: dict) -> None:
    if summary.get("replayed"):
        return
    seconds = summary["seconds"]
    log.info("batch %d: %d in, %d scored, %d rejected, %d resent, %d alerts, %d labels | %.2f s, %.0f rows/s | "
             "send-to-commit latency ms p50 %s p99 %s max %s | stages s: %s", summary["batch_id"],
             summary["rows_in"], summary["scored"], summary["rejected"], summary["duplicates"], summary["alerts"],
             summary["labels"], seconds, summary["rows_in"] / seconds if seconds else 0.0,
             summary["latency_p50_ms"], summary["latency_p99_ms"], summary["latency_max_ms"], summary["stages"])
    if summary.get("rule_errors"):
        log.warning("batch %d: a decision rule raised for %d payments; counted as not fired for them (the rule "
                    "ids are in scored_transactions.rule_errors)", summary["batch_id"], summary["rule_errors"])
    if summary.get("quarantined"):
        log.warning("batch %d: the database refused %d records; they are quarantined in rejected_payments as "
                    "UNWRITABLE_RECORD with its error, and the rest of the batch committed", summary["batch_id"],
                    summary["quarantined"])
