"""The JSON Schema, the Spark parser and the samples agree on what a valid payment is."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from core.currencies import ISO_4217_CODES, minor_units
from events.contract import (
    MAX_AMOUNT_AS_SENT,
    MAX_ID_LENGTH,
    MIN_AMOUNT,
    REQUIRED_FIELDS,
    RFC3339_PATTERN,
    TEXT_ID_PATTERN,
    TRANSACTION_ID_PATTERN,
    Reason,
)
from events.json_contract import LABEL_SCHEMA_FILE, PAYMENT_SCHEMA_FILE, contract_errors, load_schema
from events.parse import split_payments
from events.schemas import KAFKA_RECORD_SCHEMA, PAYMENT_SCHEMA

SAMPLES = Path(__file__).resolve().parents[2] / "contract" / "samples"
EXPECTED_REASON = {
    "bad_json": Reason.BAD_JSON, "missing_field": Reason.MISSING_FIELD, "wrong_type": Reason.WRONG_TYPE,
    "amount_out_of_range": Reason.AMOUNT_OUT_OF_RANGE, "bad_currency": Reason.BAD_CURRENCY,
    "bad_timestamp": Reason.BAD_TIMESTAMP, "oversize": Reason.OVERSIZE, "non_utf8": Reason.NOT_UTF8,
}
SCHEMA = load_schema(PAYMENT_SCHEMA_FILE)
SPARK_TYPE_FOR_JSON = {"string": (T.StringType, T.TimestampType), "number": (T.DecimalType,)}


def test_json_schema_and_spark_schema_have_the_same_fields_and_types():
    spark_fields = {f.name: f.dataType for f in PAYMENT_SCHEMA}
    assert set(SCHEMA["properties"]) <= set(spark_fields)
    for name, rule in SCHEMA["properties"].items():
        assert isinstance(spark_fields[name], SPARK_TYPE_FOR_JSON[rule["type"]]), name
    assert set(SCHEMA["required"]) == set(REQUIRED_FIELDS)


def test_json_schema_rules_are_the_parser_rules():
    properties = SCHEMA["properties"]
    assert properties["transaction_id"]["pattern"] == TRANSACTION_ID_PATTERN
    assert properties["event_time"]["pattern"] == RFC3339_PATTERN
    assert properties["amount"]["maximum"] == MAX_AMOUNT_AS_SENT and properties["amount"]["minimum"] == MIN_AMOUNT
    for rule in SCHEMA["allOf"]:  # a currency's minor units, as the parser has them
        codes = rule["if"].get("properties", {}).get("currency", {}).get("enum", [])
        step = Decimal(str(rule["then"]["properties"]["amount"]["multipleOf"]))
        assert {minor_units(code) for code in codes} <= {-step.as_tuple().exponent}
    assert properties["customer_id"]["maxLength"] == properties["terminal_id"]["maxLength"] == MAX_ID_LENGTH
    assert set(properties["currency"]["enum"]) == ISO_4217_CODES
    assert properties["customer_id"]["pattern"] == properties["terminal_id"]["pattern"] == TEXT_ID_PATTERN
    label = load_schema(LABEL_SCHEMA_FILE)
    assert label["properties"]["transaction_id"]["pattern"] == TRANSACTION_ID_PATTERN
    assert label["properties"]["customer_id"]["pattern"] == TEXT_ID_PATTERN


@pytest.mark.parametrize("field, value", [("transaction_id", "tx-1\n"), ("customer_id", "C\u200b1"),
                                          ("terminal_id", "T\n")])
def test_the_json_schema_also_checks_ids_as_whole_strings(field, value):
    """Python's `$` matches before a final newline, as Java's does: the patterns end with (?![\\s\\S])."""
    document = {"transaction_id": "tx-1", "customer_id": "C1", "terminal_id": "T1", "amount": 1,
                "event_time": "2018-04-01T00:07:56Z", field: value}
    assert contract_errors(json.dumps(document).encode()) != []


def test_there_is_one_invalid_sample_per_kind():
    assert {p.stem for p in (SAMPLES / "invalid").iterdir()} == set(EXPECTED_REASON)
    assert len(list((SAMPLES / "valid").iterdir())) >= 3


@pytest.mark.parametrize("sample", sorted((SAMPLES / "valid").iterdir()), ids=lambda p: p.stem)
def test_valid_samples_pass_the_json_schema(sample):
    assert contract_errors(sample.read_bytes()) == []


@pytest.mark.parametrize("sample", sorted((SAMPLES / "invalid").iterdir()), ids=lambda p: p.stem)
def test_invalid_samples_fail_the_json_schema(sample):
    assert contract_errors(sample.read_bytes()) != []


def test_spark_parser_gives_each_sample_the_same_verdict(spark):
    samples = sorted((SAMPLES / "valid").iterdir()) + sorted((SAMPLES / "invalid").iterdir())
    rows = [(None, p.read_bytes(), "payments", 0, i, None) for i, p in enumerate(samples)]
    valid_df, rejected_df = split_payments(spark.createDataFrame(rows, KAFKA_RECORD_SCHEMA))
    reasons = {r.kafka_offset: r.reason_code for r in rejected_df.collect()}
    valid_offsets = {r.kafka_offset for r in valid_df.collect()}
    for offset, path in enumerate(samples):
        if path.parent.name == "valid":
            assert offset in valid_offsets, path.name
        else:
            assert reasons[offset] == EXPECTED_REASON[path.stem], path.name


@pytest.mark.parametrize("amount, currency, ok", [
    ("0.07", None, True), ("57.16", None, True), ("1e3", None, True), ("12.345", None, False),
    ("1500", "JPY", True), ("12.5", "JPY", False), ("1.234", "BHD", True), ("1.2345", "BHD", False),
    ("1.2345", "CLF", True), ("1.234", "USD", False)])
def test_amount_decimals_are_checked_exactly_in_the_currency_s_minor_units(amount, currency, ok):
    raw = ('{"transaction_id":"t","customer_id":"c","terminal_id":"t","amount":' + str(amount)
           + (f',"currency":"{currency}"' if currency else "") + ',"event_time":"2018-04-01T00:07:56Z"}').encode()
    assert (contract_errors(raw) == []) is ok


LABEL = {"transaction_id": "t1", "customer_id": "C1", "terminal_id": "T1", "event_time": "2018-04-01T00:00:00Z",
         "is_fraud": True, "labeled_at": "2018-04-08T00:00:00Z"}


@pytest.mark.parametrize("labeled_by, reason", [
    (..., None), (None, "WRONG_TYPE"), ("analyst", None), ("ana.lyst@bank", None), (42, "WRONG_TYPE"), ("", "BAD_ID"),
    ("two words", "BAD_ID"), ("x" * 65, "BAD_ID")])
def test_a_label_s_optional_labeled_by_is_checked_alike_by_the_json_schema_and_the_parser(spark, labeled_by, reason):
    """labeled_by (who gave a label from the dashboard) is optional; when present, an id-like string."""
    from events.parse import parse_records

    document = LABEL if labeled_by is ... else {**LABEL, "labeled_by": labeled_by}
    raw = json.dumps(document).encode()
    row = parse_records(spark.createDataFrame([(None, raw, "payment-labels", 0, 0, None)], KAFKA_RECORD_SCHEMA),
                        is_label=F.lit(True)).first()
    assert row.reason_code == reason
    assert (contract_errors(raw, LABEL_SCHEMA_FILE) == []) is (reason is None)
    if reason is None:
        assert row.labeled_by == (None if labeled_by is ... else labeled_by)
