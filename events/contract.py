"""Rules of the payment contract v1 (docs/contract.md, contract/payment.v1.schema.json)."""
from __future__ import annotations

TRANSACTION_ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,64}$"
RFC3339_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+\-]\d{2}:\d{2})$"
MAX_ID_LENGTH = 64
MIN_AMOUNT_EXCLUSIVE = 0
MAX_AMOUNT = 1_000_000
DEFAULT_CURRENCY = "EUR"
MAX_MESSAGE_BYTES = 16_384
RAW_PREFIX_BYTES = 1_024

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
    DUPLICATE_CONFLICT = "DUPLICATE_CONFLICT"  # decided in MySQL at commit (sql/commit_batch.sql)

    ALL = (NOT_UTF8, OVERSIZE, BAD_JSON, MISSING_FIELD, WRONG_TYPE, BAD_ID,
           AMOUNT_OUT_OF_RANGE, AMOUNT_PRECISION, BAD_CURRENCY, BAD_TIMESTAMP, DUPLICATE_CONFLICT)
