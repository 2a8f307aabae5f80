"""Rules of the payment contract v1 (docs/contract.md, contract/payment.v1.schema.json)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

# Whole strings: `(?![\s\S])` is the end of the input in every regex dialect the contract meets
# (Java's and Python's `$` also match before a final newline, so "tx1\n" would pass as "tx1").
TRANSACTION_ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,64}(?![\s\S])"
# customer_id, terminal_id: any characters but control, format and separator ones (newlines,
# zero-width and bidirectional marks, spaces), which make two ids look alike.
NOT_ID_CHARACTERS = r"\x00-\x20\x7f-\xa0\u00ad\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff"
TEXT_ID_PATTERN = rf"^[^{NOT_ID_CHARACTERS}]+(?![\s\S])"
RFC3339_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+\-]\d{2}:\d{2})$"
MAX_ID_LENGTH = 64
MIN_AMOUNT = 0  # inclusive: a zero-amount authorisation (card verification) is a payment
MAX_AMOUNT = 1_000_000  # in the base currency (currency.base), once converted
MAX_AMOUNT_AS_SENT = 100_000_000_000_000  # in any currency (fits events.schemas.AMOUNT_TYPE)
DEFAULT_CURRENCY = "EUR"
MAX_MESSAGE_BYTES = 16_384
RAW_PREFIX_BYTES = 1_024
MAX_REASON_MESSAGE_CHARS = 512  # rejected_payments.reason_message

REQUIRED_STRING_FIELDS = ("transaction_id", "customer_id", "terminal_id", "event_time")
REQUIRED_FIELDS = ("transaction_id", "customer_id", "terminal_id", "amount", "event_time")


class Reason:
    """Machine-readable reason codes for rejected messages, in the order they are checked."""

    NOT_UTF8 = "NOT_UTF8"
    OVERSIZE = "OVERSIZE"
    BAD_JSON = "BAD_JSON"
    MISSING_FIELD = "MISSING_FIELD"
    WRONG_TYPE = "WRONG_TYPE"
    BAD_ID = "BAD_ID"
    AMOUNT_OUT_OF_RANGE = "AMOUNT_OUT_OF_RANGE"
    AMOUNT_PRECISION = "AMOUNT_PRECISION"
    BAD_CURRENCY = "BAD_CURRENCY"
    BAD_TIMESTAMP = "BAD_TIMESTAMP"
    EVENT_TIME_OUT_OF_RANGE = "EVENT_TIME_OUT_OF_RANGE"
    DUPLICATE_CONFLICT = "DUPLICATE_CONFLICT"  # same transaction_id, other content (features/, sinks/)
    # A label for no payment the job scored for that customer (java/velocity-state, customer operator).
    LABEL_UNKNOWN_TRANSACTION = "LABEL_UNKNOWN_TRANSACTION"
    # A valid record the database refused to store (a constraint, a trigger; sinks/jdbc.py).
    UNWRITABLE_RECORD = "UNWRITABLE_RECORD"
    # A currency the rates version in force at event_time lists no rate for (conf/currency_rates.yaml).
    CURRENCY_NOT_CONVERTIBLE = "CURRENCY_NOT_CONVERTIBLE"

    ALL = (NOT_UTF8, OVERSIZE, BAD_JSON, MISSING_FIELD, WRONG_TYPE, BAD_ID, AMOUNT_OUT_OF_RANGE,
           AMOUNT_PRECISION, BAD_CURRENCY, BAD_TIMESTAMP, EVENT_TIME_OUT_OF_RANGE, DUPLICATE_CONFLICT,
           CURRENCY_NOT_CONVERTIBLE, LABEL_UNKNOWN_TRANSACTION, UNWRITABLE_RECORD)


@dataclass(frozen=True)
class EventTimeBounds:
    """How far a record's event_time may lie from its Kafka timestamp (when it was produced).

    A payment dated far in the future would move the event-time watermark there, and every
    later payment would look late and see no history; far in the past is only implausible
    (replays of old data are legitimate, so that bound is wide by default)."""

    future: timedelta = timedelta(hours=1)
    past: timedelta = timedelta(days=3650)
