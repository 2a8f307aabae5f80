"""Written payments that the append skipped because their transaction_id was already stored:
a resend (same content as the stored row: counted, not stored again) or a conflict (other
content: rejected as DUPLICATE_CONFLICT).

The customer operator finds repeats among a customer's own recent payments (features/); this
catches the rest: an id stored under another customer, by another stream, or beyond the
state's retention. It runs only when fewer rows landed than were written, on the executors:
each classifies its partition's payments against the stored copies (PyMySQL, parameterised).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
from pyspark.sql import DataFrame, Observation
from pyspark.sql import functions as F
from pyspark.sql import types as T

from core.config import MySqlConfig
from events.contract import Reason
from events.schemas import REJECTED_SCHEMA
from sinks.jdbc import append_routed
from sinks.mysql_connection import connect_arguments, named_statements
from sinks.mysql_sink import COMMIT_SQL, REJECTED_TABLE, SINK_TABLE, BatchKey, Skipped, with_batch_tags

CONTENT = ("customer_id", "terminal_id", "amount", "currency", "event_time")
CANDIDATE_COLUMNS = ("transaction_id", "kafka_topic", "kafka_partition", "kafka_offset", "kafka_timestamp",
                     "raw_value_length", *CONTENT)
CLASSIFIED_SCHEMA = T.StructType([*REJECTED_SCHEMA.fields, T.StructField("kind", T.StringType(), False)])
ID_CHUNK = 1000


class ResendError(RuntimeError):
    """A payment the append skipped has no stored row: the table changed under the job."""


@dataclass(frozen=True)
class StoredPayment:
    """The row scored_transactions holds for a transaction_id."""

    stream_id: str
    batch_id: int
    kafka_partition: int
    kafka_offset: int
    content: tuple


def payment_content(row: dict) -> tuple:
    """The fields that make two messages with one transaction_id the same payment."""
    event_time = pd.Timestamp(row["event_time"])
    event_time = event_time.tz_convert("UTC").tz_localize(None) if event_time.tzinfo else event_time
    return (row["customer_id"], row["terminal_id"], Decimal(str(row["amount"])).quantize(Decimal("0.0001")),
            row["currency"], event_time.to_pydatetime())


def stored_payment(row: tuple) -> StoredPayment:
    _, stream_id, batch_id, partition, offset, *content = row
    return StoredPayment(stream_id, int(batch_id), int(partition), int(offset),
                         payment_content(dict(zip(CONTENT, content, strict=True))))


def classify(rows: pd.DataFrame, stored: dict[str, StoredPayment], key: BatchKey,
             quarantined: frozenset[tuple] = frozenset()) -> pd.DataFrame:
    """CLASSIFIED_SCHEMA rows for the written payments that are not the stored row themselves
    (nor quarantined: the database refused them, rejected_payments has them)."""
    out = []
    for row in rows.to_dict("records"):
        original = stored.get(row["transaction_id"])
        if original is None and (row["kafka_topic"], row["kafka_partition"], row["kafka_offset"]) in quarantined:
            continue
        if original is None:
            raise ResendError(f"transaction {row['transaction_id']} (partition {row['kafka_partition']}, offset "
                              f"{row['kafka_offset']}) was not stored and has no earlier copy in scored_transactions")
        if (original.stream_id, original.batch_id, original.kafka_partition, original.kafka_offset) == (
                key.stream_id, key.batch_id, row["kafka_partition"], row["kafka_offset"]):
            continue  # it is the stored row itself
        kind = "RESENT" if original.content == payment_content(row) else "CONFLICT"
        message = (f"transaction_id {row['transaction_id']} is already stored with other content "
                   f"(partition {original.kafka_partition}, offset {original.kafka_offset})")
        out.append({"kafka_topic": row["kafka_topic"], "kafka_partition": row["kafka_partition"],
                    "kafka_offset": row["kafka_offset"], "kafka_timestamp": row["kafka_timestamp"],
                    "reason_code": Reason.DUPLICATE_CONFLICT, "reason_message": message,
                    "raw_value_prefix": None, "raw_value_length": row["raw_value_length"], "kind": kind})
    return pd.DataFrame(out, columns=CLASSIFIED_SCHEMA.fieldNames())


def classifier(mysql: MySqlConfig, key: BatchKey) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """The mapInPandas function: each executor looks its payments' ids up in scored_transactions."""
    arguments, statements = connect_arguments(mysql), named_statements(COMMIT_SQL)

    def classify_partition(chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import pymysql
        connection = pymysql.connect(**arguments)
        try:
            quarantined = quarantined_offsets(connection, statements["quarantined_offsets"], key)
            for chunk in chunks:
                stored = stored_copies(connection, statements["stored_payments"], chunk["transaction_id"].tolist())
                yield classify(chunk, stored, key, quarantined)
        finally:
            connection.close()
    return classify_partition


def quarantined_offsets(connection, statement: str, key: BatchKey) -> frozenset[tuple]:
    """(topic, partition, offset) of the batch's records the database refused."""
    with connection.cursor() as cursor:
        cursor.execute(statement, {**key.params(), "reason_code": Reason.UNWRITABLE_RECORD})
        return frozenset((topic, int(partition), int(offset)) for topic, partition, offset in cursor.fetchall())


def stored_copies(connection, statement: str, ids: list[str]) -> dict[str, StoredPayment]:
    stored = {}
    with connection.cursor() as cursor:
        for start in range(0, len(ids), ID_CHUNK):
            chunk = ids[start:start + ID_CHUNK]
            cursor.execute(statement.format(ids=", ".join(["%s"] * len(chunk))), chunk)
            stored.update({row[0]: stored_payment(row) for row in cursor.fetchall()})
    return stored


def resolve_skipped(batch_df: DataFrame, key: BatchKey, mysql: MySqlConfig) -> Skipped:
    """Classify the batch's written payments that did not land; append the conflicts to
    rejected_payments; count both."""
    observation = Observation(f"payscore_skipped_{key.batch_id}")
    classified_df = (batch_df.where(F.col("is_scored")).select(*CANDIDATE_COLUMNS)
                     .mapInPandas(classifier(mysql, key), CLASSIFIED_SCHEMA)
                     .observe(observation, F.count_if(F.col("kind") == "RESENT").alias("resent"),
                              F.count_if(F.col("kind") == "CONFLICT").alias("conflicts")))
    routed_df = classified_df.withColumn(SINK_TABLE, F.when(F.col("kind") == "CONFLICT", F.lit(REJECTED_TABLE)))
    append_routed(routed_df.transform(with_batch_tags(key)), SINK_TABLE,
                  {REJECTED_TABLE: [*REJECTED_SCHEMA.fieldNames(), "stream_id", "batch_id"]}, mysql)
    metrics = observation.get
    return Skipped(resent=int(metrics["resent"]), conflicts=int(metrics["conflicts"]))
