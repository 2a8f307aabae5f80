"""Spark's JDBC writer and reader against MySQL / MariaDB, run by the executors."""
from __future__ import annotations

import re

from pyspark.sql import DataFrame, SparkSession

from core.config import MySqlConfig

DIALECT_CLASS = "io.github.payscore.jdbc.InsertIgnoreMySqlDialect"
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class DialectMissingError(RuntimeError):
    """The project's JDBC dialect jar is not on Spark's class path."""


def register_insert_ignore_dialect(spark: SparkSession) -> None:
    """Make Spark's JDBC appends to MySQL/MariaDB INSERT IGNORE (java/jdbc-dialect): a row whose
    key is already stored is skipped instead of failing the write."""
    jvm = spark.sparkContext._jvm
    try:
        dialect = getattr(jvm, DIALECT_CLASS)()
    except Exception as error:  # py4j: class not found
        raise DialectMissingError(f"{DIALECT_CLASS} is not on Spark's class path ({error}); run `make setup`, "
                                  "which builds .deps/spark-jars/payscore-jdbc-dialect.jar") from None
    jvm.org.apache.spark.sql.jdbc.JdbcDialects.registerDialect(dialect)


def jdbc_options(mysql: MySqlConfig) -> dict[str, str]:
    return {"url": mysql.jdbc_url, "driver": mysql.jdbc_driver, "user": mysql.user,
            "password": mysql.secret().get_secret_value()}


def jdbc_append(frame: DataFrame, mysql: MySqlConfig, table: str) -> None:
    """Append a frame's rows to a table (INSERT IGNORE) with the server's bulk options."""
    (frame.write.format("jdbc")
        .options(**jdbc_options(mysql))
        .option("dbtable", identifier(table))
        .option("batchsize", mysql.jdbc_batch_size)
        .option("isolationLevel", "READ_COMMITTED")
        .mode("append")
        .save())


def jdbc_query(spark: SparkSession, mysql: MySqlConfig, query: str) -> DataFrame:
    """The rows of a query, read by an executor."""
    return spark.read.format("jdbc").options(**jdbc_options(mysql)).option("query", query).load()


def identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"table name {name!r} is not a plain lower-case identifier")
    return name
