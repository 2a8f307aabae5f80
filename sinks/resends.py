"""Payments that were not stored as themselves: resends (same content as the stored row) and
conflicts (same transaction_id, other content: rejected as DUPLICATE_CONFLICT).

Candidates are the payments the feature engine flagged as already seen (never written), and,
when fewer rows landed than were written, the written ones INSERT IGNORE skipped because
their key was already stored (by another stream, or beyond the engine's memory).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

import numpy as np
import pyarrow as pa

from events.contract import Reason

CONTENT = ("customer_id", "terminal_id", "amount", "currency", "event_time")


class ResendError(RuntimeError):
    """A payment marked as a resend has no stored row: the feature state and the database disagree."""


@dataclass(frozen=True)
class StoredPayment:
    """The row scored_transactions holds for a transaction_id."""

    stream_id: str
    batch_id: int
    kafka_partition: int
    kafka_offset: int
    content: tuple


@dataclass(frozen=True)
class Resolution:
    resent: int                  # same content as the stored row: counted, not stored again
    conflicts: list[tuple]       # rejected_payments rows (without stream, batch, committed_at)


def missing_rows(written: np.ndarray, keys: np.ndarray, stored_keys: set[int]) -> np.ndarray:
    """Positions of written payments whose row key did not land (INSERT IGNORE skipped them)."""
    landed = np.fromiter((int(k) in stored_keys for k in keys), dtype=bool, count=len(keys))
    return np.flatnonzero(written & ~landed)


def payment_content(row: dict) -> tuple:
    """The fields that make two messages with one transaction_id the same payment."""
    event_time = row["event_time"]
    if event_time.tzinfo is not None:
        event_time = event_time.astimezone(timezone.utc).replace(tzinfo=None)
    return (row["customer_id"], row["terminal_id"], Decimal(row["amount"]).quantize(Decimal("0.01")),
            row["currency"], event_time)


def stored_payment(row: tuple) -> StoredPayment:
    transaction_id, stream_id, batch_id, partition, offset, *content = row
    return StoredPayment(stream_id, int(batch_id), int(partition), int(offset),
                         payment_content(dict(zip(CONTENT, content))))


def resolve(payments: pa.Table, positions: np.ndarray, stored: dict[str, StoredPayment],
            stream_id: str, batch_id: int, topic: str) -> Resolution:
    """Classify the payments at `positions` against what is stored under their transaction_id."""
    resent, conflicts = 0, []
    for row in payments.take(pa.array(positions, type=pa.int64())).to_pylist():
        original = stored.get(row["transaction_id"])
        if original is None:
            raise ResendError(f"transaction {row['transaction_id']} (partition {row['kafka_partition']}, offset "
                              f"{row['kafka_offset']}) was not stored and has no earlier copy in scored_transactions")
        if (original.stream_id, original.batch_id, original.kafka_partition, original.kafka_offset) == (
                stream_id, batch_id, row["kafka_partition"], row["kafka_offset"]):
            continue  # it is the stored row itself
        if original.content == payment_content(row):
            resent += 1
        else:
            conflicts.append(conflict_row(row, original, topic))
    return Resolution(resent, conflicts)


def conflict_row(row: dict, original: StoredPayment, topic: str) -> tuple:
    """A rejected_payments row for a payment whose id is already stored with other content."""
    message = (f"transaction_id {row['transaction_id']} is already stored with other content "
               f"(partition {original.kafka_partition}, offset {original.kafka_offset})")
    return (topic, row["kafka_partition"], row["kafka_offset"], _naive_utc(row["kafka_timestamp"]),
            Reason.DUPLICATE_CONFLICT, message, None, 0)


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo is not None else moment
