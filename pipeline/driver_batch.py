"""A micro-batch's parsed records on the driver, as Arrow tables split by fate, and the
columns the feature engine reads from them."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from events.schemas import FRAUD_LABEL_SCHEMA, PAYMENT_SCHEMA, REJECTED_SCHEMA, payment_with_features_schema

MICROS = pa.timestamp("us", tz="UTC")
ROW_KEY_SHIFT = 40  # row key = kafka_partition << 40 | kafka_offset (offsets stay far below 2**40)
ARROW_TYPE = {"long": pa.int64(), "integer": pa.int32(), "double": pa.float64()}


def row_keys(partitions: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """One int64 per Kafka record, from its partition and offset."""
    return (np.asarray(partitions, dtype=np.int64) << ROW_KEY_SHIFT) | np.asarray(offsets, dtype=np.int64)


@dataclass(frozen=True)
class DriverBatch:
    """Every record of a micro-batch, each in exactly one table."""

    rows_in: int
    payments: pa.Table  # valid payments (PAYMENT_SCHEMA), sorted by kafka_partition, kafka_offset
    labels: pa.Table    # valid fraud labels (FRAUD_LABEL_SCHEMA)
    rejected: pa.Table  # rejected messages (REJECTED_SCHEMA)

    def payment_keys(self) -> np.ndarray:
        """Row key (partition, offset) of each payment, in table order."""
        return row_keys(self.payments.column("kafka_partition").to_numpy(),
                        self.payments.column("kafka_offset").to_numpy())

    def sent_at_us(self) -> np.ndarray:
        """Each payment's Kafka timestamp (the producer's send time), UTC microseconds."""
        return _micros(self.payments.column("kafka_timestamp"))


def collect_batch(parsed_df: DataFrame) -> DriverBatch:
    """One Spark job: every parsed record of the batch to the driver (PARSED_RECORD_SCHEMA)."""
    return split_records(parsed_df.toArrow())


def split_records(records: pa.Table) -> DriverBatch:
    """Split parsed records into valid payments, valid labels and rejected messages."""
    valid = pc.is_null(records.column("reason_code"))
    is_label = records.column("is_label")
    payments = (records.filter(pc.and_(valid, pc.invert(is_label))).select(PAYMENT_SCHEMA.fieldNames())
                .sort_by([("kafka_partition", "ascending"), ("kafka_offset", "ascending")]))
    return DriverBatch(rows_in=records.num_rows, payments=payments,
                       labels=records.filter(pc.and_(valid, is_label)).select(FRAUD_LABEL_SCHEMA.fieldNames()),
                       rejected=records.filter(pc.invert(valid)).select(REJECTED_SCHEMA.fieldNames()))


def with_feature_columns(payments: pa.Table, features: pd.DataFrame, feature_names: list[str]) -> pa.Table:
    """The payments with their features appended (features: one row per payment, same order),
    typed as payment_with_features_schema; a missing value (NaN) becomes 0."""
    schema = payment_with_features_schema(feature_names)
    columns = {name: pa.array(np.nan_to_num(features[name].to_numpy(dtype=np.float64)),
                              pa.float64()).cast(ARROW_TYPE[schema[name].dataType.typeName()])
               for name in feature_names}
    return pa.Table.from_arrays([*payments.columns, *columns.values()],
                                names=[*payments.column_names, *columns])


def tag_field(name: str, value: str | int) -> T.StructField:
    """The Spark field of a constant column: a string, or an integer (as a long)."""
    return T.StructField(name, T.StringType() if isinstance(value, str) else T.LongType(), False)


def payments_schema(feature_names: list[str], tags: Mapping[str, str | int] | None = None) -> T.StructType:
    """payments_table's columns: payment_with_features_schema, then the tags."""
    return T.StructType([*payment_with_features_schema(feature_names).fields,
                         *(tag_field(name, value) for name, value in (tags or {}).items())])


def with_tag_columns(table: pa.Table, tags: Mapping[str, str | int]) -> pa.Table:
    """The table with a constant column per tag (Arrow infers string or int64, as tag_field).
    The columns are repeated in Arrow, not built from Python lists (200k rows: ~0.4 s -> ~0.03 s)."""
    columns = [pa.repeat(pa.scalar(value), table.num_rows) for value in tags.values()]
    return pa.Table.from_arrays([*table.columns, *columns], names=[*table.column_names, *tags])


def payments_table(payments: pa.Table, features: pd.DataFrame, feature_names: list[str],
                   tags: Mapping[str, str | int] | None = None) -> pa.Table:
    """Payments the driver holds with their features (and a constant column per tag), in the
    columns of payments_schema.

    The scoring job starts from the driver's copy rather than from the Kafka records: reading
    and parsing them again (or caching them for it) and planning the parse a second time cost
    more than sending the payments to Spark (measured: 0.92 -> 0.79 s a 6,000-payment batch).
    The features travel as columns, so the scoring UDF needs no lookup table. So do the tags
    (the batch a row belongs to): a literal column would cost a JVM round trip a batch."""
    return with_tag_columns(with_feature_columns(payments, features, feature_names), tags or {})


def payments_frame(spark: SparkSession, payments: pa.Table, features: pd.DataFrame,
                   feature_names: list[str], tags: Mapping[str, str | int] | None = None) -> DataFrame:
    """payments_table as a new DataFrame in one partition per core (for one-off use: the job
    scores through a frame analysed once, pipeline/batch_source.py)."""
    table, schema = payments_table(payments, features, feature_names, tags), payments_schema(feature_names, tags)
    cores = spark.sparkContext.defaultParallelism
    rows_per_partition = max(1, math.ceil(table.num_rows / cores))
    # createDataFrame makes a partition of each record batch (split at arrow.maxRecordsPerBatch).
    sliced = pa.Table.from_batches(table.combine_chunks().to_batches(max_chunksize=rows_per_partition))
    return spark.createDataFrame(sliced, schema).coalesce(cores)


def engine_payments(payments: pa.Table) -> pd.DataFrame:
    """The feature engine's payment columns: ids, exact cents, UTC microseconds."""
    return pd.DataFrame({
        "transaction_id": _objects(payments.column("transaction_id")),
        "customer_id": _objects(payments.column("customer_id")),
        "terminal_id": _objects(payments.column("terminal_id")),
        "amount_cents": np.rint(payments.column("amount").cast(pa.float64()).to_numpy() * 100).astype(np.int64),
        "event_us": _micros(payments.column("event_time")),
    })


def engine_labels(labels: pa.Table) -> pd.DataFrame:
    """The feature engine's label columns."""
    return pd.DataFrame({
        "transaction_id": _objects(labels.column("transaction_id")),
        "terminal_id": _objects(labels.column("terminal_id")),
        "event_us": _micros(labels.column("event_time")),
        "is_fraud": labels.column("is_fraud").to_numpy(zero_copy_only=False).astype(bool),
        "labeled_at_us": _micros(labels.column("labeled_at")),
    })


def _objects(column: pa.ChunkedArray) -> np.ndarray:
    return column.to_numpy(zero_copy_only=False).astype(object)


def _micros(column: pa.ChunkedArray) -> np.ndarray:
    return column.cast(MICROS).cast(pa.int64()).to_numpy().astype(np.int64)
