"""The payment scoring query, in the order data flows (the production path, also driven by
the tests): Kafka -> parse -> stateful velocity -> pandas UDF score -> decisions ->
foreachBatch JDBC. The streaming plan (read, parse, features) is defined once; the scoring
stage is applied to each micro-batch in foreachBatch with the models the registry names for it
(hot swap, pipeline/model_swap.py), its transform rebuilt only when they change."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from core.config import AppConfig
from decisions.rules import compile_rules
from events.contract import EventTimeBounds
from events.kafka_source import read_payment_records
from events.parse import parse_records
from events.schemas import scored_payment_schema
from features.calendar import with_calendar_features
from features.definitions import model_feature_names, stored_feature_names
from features.velocity import with_event_time_watermark, with_scored_flag, with_velocity_features
from pipeline.model_swap import ModelSwitch, scoring_transform
from sinks.batch_writer import make_batch_writer
from sinks.checkpoint_guard import CheckpointGuard
from sinks.kafka_outbox import KafkaOutbox
from sinks.mysql_sink import MySqlBatchSink
from sinks.stream_fence import stream_fence
from udfs.model_artifact import ModelArtifact, load_artifact
from udfs.scoring import ScoringModels, ship_model

QUERY_NAME = "score_payments"
log = logging.getLogger(__name__)


def trigger_settings(config: AppConfig, available_now: bool) -> dict:
    """Keyword arguments for DataStreamWriter.trigger: a fixed interval, or drain-and-stop."""
    if available_now:
        return {"availableNow": True}
    return {"processingTime": config.stream.trigger_interval}


def load_scoring_model(config: AppConfig) -> ModelArtifact:
    """The configured model, checked against the features this configuration computes."""
    return load_artifact(config.model.artifact_dir(), model_feature_names(config.features))


def event_time_bounds(config: AppConfig) -> EventTimeBounds:
    return EventTimeBounds(future=timedelta(minutes=config.contract.event_time_future_minutes),
                           past=timedelta(days=config.contract.event_time_past_days))


def with_parsed_records(config: AppConfig) -> Callable[[DataFrame], DataFrame]:
    """Transform: Kafka records -> parsed records (events.parse), the labels topic's as fraud
    labels. One task per core reads them (a task per Kafka partition of both topics costs more
    to start than it reads in a small micro-batch)."""
    def transform(records_df: DataFrame) -> DataFrame:
        cores = records_df.sparkSession.sparkContext.defaultParallelism
        return parse_records(records_df.coalesce(cores), F.col("topic") == config.kafka.topics.labels,
                             event_time_bounds=event_time_bounds(config), currency=config.currency)
    return transform


def scoring_stages(config: AppConfig, models: ScoringModels | ModelArtifact) -> list[tuple[str, list[Callable]]]:
    """The transforms between the Kafka source and the sink, by stage, in the order data flows."""
    models = models if isinstance(models, ScoringModels) else ScoringModels(models)
    return [
        ("read_parse", [with_parsed_records(config)]),
        ("features", [with_event_time_watermark(config.features), with_velocity_features(config.features),
                      with_calendar_features, with_scored_flag]),
        ("scoring", [scoring_transform(config, models)]),
    ]


def scored_records(records_df: DataFrame, config: AppConfig, models: ScoringModels | ModelArtifact,
                   until: str | None = None) -> DataFrame:
    """Kafka records -> every record parsed, each valid payment with its features, score and
    decision (labels and rejected messages pass through for the sink); with `until`, the plan
    cut after that stage (the streaming query stops at "features"; bench/stages.py)."""
    for stage, transforms in scoring_stages(config, models):
        for transform in transforms:
            records_df = records_df.transform(transform)
        if stage == until:
            break
    return records_df


def start_scoring_query(spark: SparkSession, config: AppConfig, trigger: dict,
                        on_commit: Callable[[dict], None] | None = None,
                        model: ModelArtifact | None = None, outbox: KafkaOutbox | None = None,
                        accept_checkpoint_mismatch: bool = False) -> StreamingQuery:
    """Kafka payments and labels -> scored -> MySQL (exactly-once), checkpointed with the state;
    alerts and dead letters -> Kafka (the outbox, which first publishes what an earlier run
    committed and did not publish). Refuses to start with a decision rule that does not compile,
    while another driver holds the stream's lock (StreamFenced), or when the checkpoint and the
    database are out of step (CheckpointMismatch, unless accepted)."""
    fence = stream_fence(config.mysql, str(config.stream.checkpoint_location))
    fence.hold()
    guard = CheckpointGuard(config.mysql, str(config.stream.checkpoint_location))
    guard.check(spark, accept_checkpoint_mismatch)
    model = model or load_scoring_model(config)
    outbox = outbox or KafkaOutbox(config.kafka, config.mysql)
    feature_names = stored_feature_names(config.features)
    compile_rules(spark, config.decisions.rules, scored_payment_schema(feature_names))
    ship_model(spark, model.folder)
    models = ModelSwitch(spark, config, model)
    write_batch = make_batch_writer(MySqlBatchSink(config.mysql, feature_names, fence), outbox, models.for_batch,
                                    on_commit)
    records_df = read_payment_records(spark, config.kafka, config.stream)
    query = (
        scored_records(records_df, config, model, until="features").writeStream
        .queryName(QUERY_NAME)
        .foreachBatch(write_batch)
        .option("checkpointLocation", str(config.stream.checkpoint_location))
        .trigger(**trigger)
        .start()
    )
    guard.register(str(query.id))
    outbox.catch_up(spark, str(query.id))
    return query


def with_stream_overrides(config: AppConfig, checkpoint: str | None = None,
                          starting_offsets: str | None = None,
                          max_offsets_per_trigger: int | None = None,
                          trigger_interval: str | None = None, payments_topic: str | None = None,
                          labels_topic: str | None = None) -> AppConfig:
    """The config with command-line stream options applied (None keeps the file's value)."""
    stream = config.stream
    topics = replace(config.kafka.topics, payments=payments_topic or config.kafka.topics.payments,
                     labels=labels_topic or config.kafka.topics.labels)
    config = config.model_copy(update={"kafka": replace(config.kafka, topics=topics)})
    changes = {
        "checkpoint_location": Path(checkpoint).resolve() if checkpoint else None,
        "starting_offsets": starting_offsets,
        "max_offsets_per_trigger": max_offsets_per_trigger,
        "trigger_interval": trigger_interval,
    }
    return config.model_copy(update={"stream": replace(stream, **{k: v for k, v in changes.items() if v is not None})})
