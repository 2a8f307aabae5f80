"""The replay: a labelled dataset through the job's own stages (the stateful feature operators,
the pandas UDF model score, the decision rules) as a Spark batch query, each configuration's
scored payments appended to its own database with the job's JDBC sink, then read back."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from core.config import AppConfig, DecisionsConfig, MySqlConfig
from features.batch import featured_records as batch_featured_records
from features.batch import labels_after_delay
from features.definitions import stored_feature_names
from features.velocity import with_scored_flag
from pipeline.model_swap import scoring_transform
from services.grants import granting_connection, local_server, migrate_and_grant
from sinks.jdbc import append_routed
from sinks.mysql_connection import connect
from sinks.mysql_sink import SCORED_TABLE, table_columns
from udfs.model_artifact import ModelArtifact
from udfs.scoring import ScoringModels, ship_model

RESULT_COLUMNS = ["transaction_id", "customer_id", "event_time", "score", "decision", "reasons"]


@dataclass(frozen=True)
class Variant:
    """A configuration under test: its decision rules and score bands, and its model."""

    name: str
    decisions: DecisionsConfig
    model: ModelArtifact


def featured_records(spark: SparkSession, dataset: pd.DataFrame, config: AppConfig) -> DataFrame:
    """The dataset's payments and its labels (each fraud known label_delay_days after it) through
    the stream's stateful operators in a batch query: each payment with the features the job gives it."""
    labels = labels_after_delay(dataset, timedelta(days=config.features.label_delay_days))
    return (batch_featured_records(spark, dataset, labels, config.features, base_currency=config.currency.base)
            .transform(with_scored_flag))


def scored_payments(featured_df: DataFrame, config: AppConfig, variant: Variant, run_id: str) -> DataFrame:
    """The scored payments of a variant with the columns scored_transactions takes, tagged with the run."""
    variant_config = config.model_copy(update={"decisions": variant.decisions})
    scored_df = featured_df.transform(scoring_transform(variant_config, ScoringModels(variant.model)))
    columns = table_columns(stored_feature_names(config.features))[SCORED_TABLE]
    return (scored_df.where(F.col("is_scored"))
            .withColumns({"stream_id": F.lit(f"backtest-{run_id}-{variant.name}"[:64]), "batch_id": F.lit(0)})
            .select(*columns))


def backtest_database(mysql: MySqlConfig, name: str) -> MySqlConfig:
    """The config of a variant's database; never the job's own."""
    if name == mysql.database or "backtest" not in name:
        raise ValueError(f"a backtest database must be named with 'backtest' and not be the job's ({name!r})")
    return replace(mysql, database=name)


def fresh_database(config: AppConfig, mysql: MySqlConfig) -> None:
    """An empty database with the job's schema and accounts (dropped first if there was one)."""
    server = local_server(config)
    if server is not None:
        server.drop_database(mysql.database)
    else:
        with granting_connection(config) as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{mysql.database}`")
            cursor.execute(f"CREATE DATABASE `{mysql.database}`")
    migrate_and_grant(config, mysql)


def write_variant(scored_df: DataFrame, mysql: MySqlConfig) -> None:
    """Append with the job's JDBC sink (executors, one transaction per partition)."""
    routed_df = scored_df.withColumn("sink_table", F.lit(SCORED_TABLE))
    columns = {SCORED_TABLE: list(scored_df.columns)}
    append_routed(routed_df, "sink_table", columns, mysql)


def stored_results(mysql: MySqlConfig) -> pd.DataFrame:
    """The variant's scored payments as stored (what the report is made of)."""
    import pymysql.cursors
    with connect(mysql, autocommit=True) as connection:
        with connection.cursor(pymysql.cursors.SSCursor) as cursor:
            cursor.execute(f"SELECT {', '.join(RESULT_COLUMNS)} FROM scored_transactions")
            frame = pd.DataFrame(list(cursor.fetchall_unbuffered()), columns=RESULT_COLUMNS)
    frame["score"] = frame["score"].astype(float)
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True)
    return frame


def persisted(frame: DataFrame) -> DataFrame:
    """The features are computed once for every variant (memory, then disk)."""
    return frame.persist(StorageLevel.MEMORY_AND_DISK)


def ship(spark: SparkSession, variants: list[Variant]) -> None:
    for variant in variants:
        ship_model(spark, variant.model.folder)
