"""Per-customer velocity and per-terminal risk, computed inside the streaming query by two
stateful operators keyed by customer_id and terminal_id (java/velocity-state, Spark's
transformWithState): the state lives in Spark's state store, partitioned by key and
checkpointed with the query, and the event-time watermark evicts what no on-time payment
can need. The same operators compute the training features in a batch query (features/batch.py).
"""
from __future__ import annotations

import json
from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from core.config import FeatureConfig
from features.definitions import (
    MICROS_PER_DAY,
    MICROS_PER_MINUTE,
    burst_feature_names,
    customer_feature_names,
    terminal_feature_names,
)

OPERATORS_CLASS = "io.github.payscore.velocity.VelocityOperators"
BLOCK_EVENTS = 4096  # events per sealed block of a hot key's history (java/velocity-state EventLog)


class OperatorsMissingError(RuntimeError):
    """The project's stateful operators are not on Spark's class path."""


def velocity_settings(config: FeatureConfig, block_events: int = BLOCK_EVENTS) -> str:
    """The windows of conf/ (features:) and the column names they make, for the JVM operators."""
    customer, burst, terminal = (customer_feature_names(config), burst_feature_names(config),
                                 terminal_feature_names(config))
    return json.dumps({
        "customer_count_names": customer[0::2], "customer_mean_names": customer[1::2],
        "customer_windows_us": [days * MICROS_PER_DAY for days in config.customer_windows_days],
        "burst_count_names": burst[0::2], "burst_sum_names": burst[1::2],
        "burst_windows_us": [minutes * MICROS_PER_MINUTE for minutes in config.burst_windows_minutes],
        "terminal_count_names": terminal[0::2], "terminal_risk_names": terminal[1::2],
        "terminal_windows_us": [days * MICROS_PER_DAY for days in config.terminal_windows_days],
        "label_delay_us": config.label_delay_us, "block_events": block_events,
    })


def with_event_time_watermark(config: FeatureConfig) -> Callable[[DataFrame], DataFrame]:
    """Transform: the watermark the operators evict by, allowed_lateness_hours behind the latest
    event time seen. It drops nothing: the operators see event_time as a plain column."""
    def transform(records_df: DataFrame) -> DataFrame:
        return records_df.withWatermark("event_time", f"{config.allowed_lateness_hours} hours")
    return transform


def with_velocity_features(config: FeatureConfig, streaming: bool = True,
                           block_events: int = BLOCK_EVENTS) -> Callable[[DataFrame], DataFrame]:
    """Transform: parsed records -> the same records with the customer features, is_late,
    duplicate_of (RESENT / CONFLICT for a transaction id seen before) and the terminal features.
    Every record comes out once; only valid payments get features."""
    settings = velocity_settings(config, block_events)

    def transform(records_df: DataFrame) -> DataFrame:
        spark = records_df.sparkSession
        try:
            operators = getattr(spark.sparkContext._jvm, OPERATORS_CLASS)
            jdf = operators.apply(records_df._jdf, settings, streaming)
        except Exception as error:  # noqa: BLE001 - py4j: class missing, or a bad plan
            if "velocity" in str(error) and ("ClassNotFound" in str(error) or "does not exist" in str(error)):
                raise OperatorsMissingError(f"{OPERATORS_CLASS} is not on Spark's class path; run `make setup`, "
                                            "which builds .deps/spark-jars/payscore-velocity-state.jar") from None
            raise
        return DataFrame(jdf, spark)
    return transform


def is_scored() -> Column:
    """A valid payment that is not a duplicate: the rows that get a score and a decision."""
    return F.col("reason_code").isNull() & ~F.col("is_label") & F.col("duplicate_of").isNull()


def with_scored_flag(records_df: DataFrame) -> DataFrame:
    return records_df.withColumn("is_scored", is_scored())
