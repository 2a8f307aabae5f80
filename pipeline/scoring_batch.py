"""What the scoring query does with each micro-batch (its foreachBatch function).

parsed records -> the driver (one Spark job) -> features (numpy engine, state as of the
previous batch) -> the payments and their features back to Spark from the driver's copy:
model score (one pandas UDF) + decision ->
JDBC append (INSERT IGNORE) -> one MySQL transaction (rejected, labels, resends, alerts,
ledger) -> alerts and dead letters to Kafka -> the feature state's delta.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from core.config import AppConfig
from decisions.rules import ScoreBands, compile_rules, with_decision
from events.schemas import payment_with_features_schema
from features.definitions import all_feature_names
from features.engine import apply_batch
from features.state_store import FeatureStateStore
from pipeline.batch_source import DriverBatchFrame
from pipeline.driver_batch import (DriverBatch, collect_batch, engine_labels, engine_payments, payments_schema,
                                   payments_table)
from sinks.kafka_outbox import KafkaOutbox
from sinks.mysql_sink import (BatchKey, CommitResult, MySqlBatchSink, current_stream_id, latency_percentiles,
                              utc_now)
from udfs.model_artifact import ModelArtifact
from udfs.scoring import model_score_column

log = logging.getLogger(__name__)
WARM_UP_TRANSACTION_ID = "payscore-warm-up"
WARM_UP_KEY = BatchKey("warm-up", 0)


def scored_feature_names(config: AppConfig) -> list[str]:
    """Feature columns stored with each payment (`amount` is the payment's own column)."""
    return [name for name in all_feature_names(config.features) if name != "amount"]


def score_bands(config: AppConfig, model: ModelArtifact) -> ScoreBands:
    """conf/ thresholds where set, else the ones chosen at training (model metadata)."""
    trained = model.metadata.get("thresholds", {})
    review = config.decisions.review_threshold
    decline = config.decisions.decline_threshold
    return ScoreBands(review=review if review is not None else float(trained.get("review", 0.5)),
                      decline=decline if decline is not None else float(trained.get("decline", 0.9)))


def scored_schema(feature_names: list[str]) -> T.StructType:
    """Columns a decision rule can use: the payment, its features, score and model_version."""
    return T.StructType([*payment_with_features_schema(feature_names).fields,
                         T.StructField("score", T.DoubleType(), True),
                         T.StructField("model_version", T.StringType(), True)])


def with_score(model: ModelArtifact):
    """Transform: payments with their features -> + the model's score and version. The UDF
    column is built once, here, not per micro-batch (each column built is a JVM round trip)."""
    columns = [model_score_column(model.folder, model.feature_names).alias("score"),
               F.lit(model.version).alias("model_version")]

    def transform(payments_df: DataFrame) -> DataFrame:
        return payments_df.select("*", *columns)
    return transform


class StageClock:
    """Seconds spent in each stage of a micro-batch, for the batch log line."""

    def __init__(self):
        self.last = time.monotonic()
        self.seconds: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.monotonic()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self.last
        self.last = now

    def describe(self) -> str:
        return " ".join(f"{stage} {seconds:.2f}" for stage, seconds in self.seconds.items())


def batch_summary(batch_id: int, rows_in: int, skipped: bool, result: CommitResult, published: dict,
                  state, seconds: float, clock: StageClock) -> dict:
    """The figures of the per-batch log line (and of the on_commit callback)."""
    stored = result.stored
    return {"batch_id": batch_id, "rows_in": rows_in, "skipped": skipped,
            "scored": stored.get("scored", 0), "rejected": stored.get("rejected", 0),
            "alerts": stored.get("alerts", 0), "published": published, "labels": stored.get("labels", 0),
            "seconds": seconds, "rate": rows_in / seconds if seconds else 0.0, "state_events": state.size,
            "stages": clock.describe(), **result.latency}


def scoring_input_schema(feature_names: list[str]) -> T.StructType:
    """What the scoring frame reads: the payment with its features, then its batch's tags (every
    batch key's tags have the warm-up key's types)."""
    return payments_schema(feature_names, WARM_UP_KEY.params())


class BatchScorer:
    """Scores a batch's payments in Spark and writes them: the steps between features and commit.
    The plan (payments -> score -> decision) is built and analysed once; each batch loads its
    rows into it (pipeline/batch_source.py)."""

    def __init__(self, spark: SparkSession, config: AppConfig, model: ModelArtifact, sink: MySqlBatchSink):
        self.model, self.sink = model, sink
        self.feature_names = scored_feature_names(config)
        compile_rules(spark, config.decisions.rules, scored_schema(self.feature_names))
        self.payments = DriverBatchFrame(spark, scoring_input_schema(self.feature_names))
        self.scored_df = (self.payments.frame.transform(with_score(model))
                          .transform(with_decision(config.decisions.rules, score_bands(config, model))))

    def write(self, key: BatchKey, batch: DriverBatch, features: pd.DataFrame, ledger: dict,
              clock: StageClock) -> CommitResult:
        """Append the scored payments (all but the engine's duplicates), then commit the batch."""
        self.sink.clear_attempt(key)
        written = ~features["is_duplicate"].to_numpy(dtype=bool)
        if written.any():
            table = payments_table(batch.payments.filter(pa.array(written)), features[written],
                                   self.feature_names, key.params())
            with self.payments.loaded(table):
                self.sink.append_scored(self.scored_df)
        clock.lap("score+append")
        ledger = {**ledger, "model_version": self.model.version, **latency_percentiles(batch.sent_at_us())}
        result = self.sink.commit(key, batch, written, ledger)
        clock.lap("commit")
        return result

    def rehearse(self, batch: DriverBatch, features: pd.DataFrame) -> None:
        """Score and append a batch's payments as write() does, but into the warm-up table and
        under one transaction id (start-up only: nothing of it is committed or kept)."""
        ids = pa.array([WARM_UP_TRANSACTION_ID] * batch.payments.num_rows, batch.payments.schema.field(
            "transaction_id").type)
        payments = batch.payments.set_column(batch.payments.schema.get_field_index("transaction_id"),
                                             "transaction_id", ids)
        table = payments_table(payments, features, self.feature_names, WARM_UP_KEY.params())
        with self.payments.loaded(table):
            self.sink.rehearse_append(self.scored_df)


def make_batch_processor(spark: SparkSession, config: AppConfig, model: ModelArtifact, sink: MySqlBatchSink,
                         store: FeatureStateStore, outbox: KafkaOutbox,
                         on_commit: Callable[[dict], None] | None = None
                         ) -> Callable[[DataFrame, int], None]:
    """The foreachBatch function of the scoring query, over parsed records (events.parse).
    Refuses to start with a decision rule that does not compile."""
    scorer = BatchScorer(spark, config, model, sink)

    def process_batch(parsed_batch_df: DataFrame, batch_id: int) -> None:
        started, started_at, clock = time.monotonic(), utc_now(), StageClock()
        key = BatchKey(current_stream_id(parsed_batch_df.sparkSession), batch_id)
        committed = sink.is_committed(key)
        batch = collect_batch(parsed_batch_df)
        payments_in, labels_in = engine_payments(batch.payments), engine_labels(batch.labels)
        clock.lap("read")
        features, state = apply_batch(store.state_before(batch_id), payments_in, labels_in,
                                      config.features, batch_id)
        clock.lap("features")
        result = CommitResult({}, latency_percentiles(None))
        if committed:
            log.info("batch %d was already committed; state advanced, nothing written", batch_id)
        else:
            ledger = {"rows_in": batch.rows_in, "late_rows": int(features["is_late"].eq(True).sum()),
                      "state_events": state.size, "started_at": started_at}
            result = scorer.write(key, batch, features, ledger, clock)
        published = outbox.publish(key)
        clock.lap("publish")
        store.save(state, payments_in, labels_in)
        clock.lap("state")
        summary = batch_summary(batch_id, batch.rows_in, committed, result, published, state,
                                time.monotonic() - started, clock)
        log.info("batch %(batch_id)d: %(rows_in)d in, %(scored)d scored, %(rejected)d rejected, %(alerts)d alerts, "
                 "%(labels)d labels | %(seconds).2f s, %(rate).0f rows/s | send-to-commit latency ms "
                 "p50 %(latency_p50_ms)s p99 %(latency_p99_ms)s max %(latency_max_ms)s | state %(state_events)d "
                 "events | stages s: %(stages)s", summary)
        if on_commit is not None:
            on_commit(summary)

    return process_batch
