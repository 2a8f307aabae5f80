"""The executors' JDBC work against MySQL / MariaDB: appending a batch's rows to their tables in
one pass (java/jdbc-sink), and reading rows back (Spark's JDBC reader)."""
from __future__ import annotations

import json
import re

from pyspark.sql import DataFrame, SparkSession

from core.config import MySqlConfig

APPEND_CLASS = "io.github.payscore.sinks.RoutedJdbcAppend"
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class SinkJarMissingError(RuntimeError):
    """The project's JDBC sink jar is not on Spark's class path."""


def jdbc_options(mysql: MySqlConfig) -> dict[str, str]:
    return {"url": mysql.jdbc_url, "driver": mysql.jdbc_driver, "user": mysql.user,
            "password": mysql.secret().get_secret_value()}


def append_routed(rows_df: DataFrame, route_column: str, columns_by_table: dict[str, list[str]],
                  mysql: MySqlConfig, quarantine: tuple[str, str] | None = None) -> dict[str, int]:
    """Append each row to the table its route_column names (NULL: nowhere) with that table's
    columns: one transaction per partition, in one pass over the frame; a row whose key is
    already stored is skipped. A row the database refuses (its data, a constraint) goes to the
    quarantine (table, reason code) when given, else fails the write. Returns the rows
    quarantined per table."""
    for table in columns_by_table:
        identifier(table)
    jvm = rows_df.sparkSession.sparkContext._jvm
    try:
        append = getattr(jvm, APPEND_CLASS).append
    except Exception as error:  # noqa: BLE001 - py4j: class not found
        raise SinkJarMissingError(f"{APPEND_CLASS} is not on Spark's class path ({error}); run `make setup`, which "
                                  "builds .deps/spark-jars/payscore-jdbc-sink.jar") from None
    options = jdbc_options(mysql)
    quarantine_table, quarantine_reason = quarantine or (None, None)
    quarantined = append(rows_df._jdf, route_column, json.dumps(columns_by_table), options["url"], options["driver"],
                         options["user"], options["password"], mysql.jdbc_batch_size, quarantine_table,
                         quarantine_reason)
    return {table: int(quarantined.get(table)) for table in columns_by_table}


def jdbc_query(spark: SparkSession, mysql: MySqlConfig, query: str) -> DataFrame:
    """The rows of a query, read by an executor."""
    return spark.read.format("jdbc").options(**jdbc_options(mysql)).option("query", query).load()


def identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"table name {name!r} is not a plain lower-case identifier")
    return name
