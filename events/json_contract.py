"""Validate raw messages against the contract's JSON Schemas (contract/*.schema.json).

Numbers are read as Decimal: `multipleOf: 0.01` is inexact on binary floats
(57.16 / 0.01 is not an integer in IEEE 754), so a float-based validator rejects good amounts.
"""
from __future__ import annotations

import json
from decimal import Decimal
from functools import cache

from jsonschema import Draft202012Validator, FormatChecker

from core.config import PROJECT_ROOT
from events.contract import MAX_MESSAGE_BYTES

CONTRACT_DIR = PROJECT_ROOT / "contract"
PAYMENT_SCHEMA_FILE = CONTRACT_DIR / "payment.v1.schema.json"
LABEL_SCHEMA_FILE = CONTRACT_DIR / "payment-label.v1.schema.json"


def load_schema(path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)


@cache
def _validator(path) -> Draft202012Validator:
    return Draft202012Validator(load_schema(path), format_checker=FormatChecker())


def contract_errors(raw: bytes, schema_path=PAYMENT_SCHEMA_FILE) -> list[str]:
    """Why raw is not a valid message of the schema ([] when it is)."""
    if len(raw) > MAX_MESSAGE_BYTES:
        return [f"{len(raw)} bytes; the limit is {MAX_MESSAGE_BYTES}"]
    try:
        document = json.loads(raw.decode("utf-8"), parse_float=Decimal,
                              object_pairs_hook=_refuse_duplicate_keys)
    except UnicodeDecodeError:
        return ["not UTF-8"]
    except ValueError as error:  # JSONDecodeError is a ValueError
        return [f"not JSON: {error}"]
    return [error.message for error in _validator(schema_path).iter_errors(document)]


def _refuse_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate keys in {keys}")
    return dict(pairs)
