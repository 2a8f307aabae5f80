"""parse: every Kafka record is either a valid payment or a rejected message with a reason."""
from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pandas as pd
import pytest
from chispa import assert_df_equality

from events.contract import Reason
from events.parse import split_payments
from events.schemas import KAFKA_RECORD_SCHEMA, PAYMENT_SCHEMA

KAFKA_TS = datetime(2024, 1, 1, 12, 0, 0)
GOOD = {"transaction_id": "tx-1", "customer_id": "C1", "terminal_id": "T1",
        "amount": 12.5, "event_time": "2018-04-01T02:07:56+02:00"}


def records(spark, values: list[bytes | None], kafka_ts: datetime = KAFKA_TS):
    rows = [(None, value, "payments", 0, offset, kafka_ts) for offset, value in enumerate(values)]
    return spark.createDataFrame(rows, KAFKA_RECORD_SCHEMA)


def with_fields(**changes) -> bytes:
    document = {**GOOD, **changes}
    return json.dumps({k: v for k, v in document.items() if v is not ...}).encode()


def test_valid_payment_is_typed_and_normalised_to_utc(spark):
    source_df = records(spark, [json.dumps(GOOD).encode(),
                                with_fields(transaction_id="tx-2", currency="USD", amount=1000000)])
    actual_df, rejected_df = split_payments(source_df)
    expected_df = spark.createDataFrame([
        ("tx-1", "C1", "T1", Decimal("12.50"), "EUR", Decimal("12.50"), datetime(2018, 4, 1, 0, 7, 56), 0, 0,
         KAFKA_TS),
        ("tx-2", "C1", "T1", Decimal("1000000.00"), "USD", Decimal("833800.00"), datetime(2018, 4, 1, 0, 7, 56), 0,
         1, KAFKA_TS),
    ], PAYMENT_SCHEMA)
    assert_df_equality(actual_df, expected_df, ignore_nullable=True, ignore_row_order=True)
    assert rejected_df.count() == 0


@pytest.mark.parametrize("value, reason", [
    (None, Reason.BAD_JSON),
    (b"", Reason.BAD_JSON),
    (b'{"transaction_id": "x",', Reason.BAD_JSON),
    (b"[1, 2]", Reason.BAD_JSON),
    (b'{"transaction_id":"a","transaction_id":"b"}', Reason.BAD_JSON),
    (b'\xff\xfe{"a": 1}', Reason.NOT_UTF8),
    (b'{"pad": "' + b"x" * 20_000 + b'"}', Reason.OVERSIZE),
    (with_fields(terminal_id=...), Reason.MISSING_FIELD),
    (with_fields(amount=None), Reason.MISSING_FIELD),
    (with_fields(amount="12.5"), Reason.WRONG_TYPE),
    (with_fields(customer_id=42), Reason.WRONG_TYPE),
    (with_fields(transaction_id="has space"), Reason.BAD_ID),
    (with_fields(customer_id=""), Reason.BAD_ID),
    (with_fields(amount=-0.01), Reason.AMOUNT_OUT_OF_RANGE),
    (with_fields(amount=1000000.01), Reason.AMOUNT_OUT_OF_RANGE),
    (with_fields(amount=12.345), Reason.AMOUNT_PRECISION),
    (with_fields(currency="EURO"), Reason.BAD_CURRENCY),
    (with_fields(currency="eur"), Reason.BAD_CURRENCY),
    (with_fields(currency="JPY", amount=12.5), Reason.AMOUNT_PRECISION),
    (with_fields(currency="BHD", amount=1.2345), Reason.AMOUNT_PRECISION),
    (with_fields(currency="PLN", amount=10), Reason.CURRENCY_NOT_CONVERTIBLE),
    (with_fields(currency="USD", amount=1300000), Reason.AMOUNT_OUT_OF_RANGE),  # 1,083,940 EUR
    (with_fields(event_time="2018-04-01 00:07:56"), Reason.BAD_TIMESTAMP),
    (with_fields(event_time="2018-02-30T00:00:00Z"), Reason.BAD_TIMESTAMP),
])
def test_each_invalid_kind_gets_its_reason_and_keeps_the_raw_bytes(spark, value, reason):
    valid_df, actual_df = split_payments(records(spark, [value]))
    assert valid_df.count() == 0
    row = actual_df.collect()[0]
    assert row.reason_code == reason
    assert row.reason_message
    assert row.raw_value_length == len(value or b"")
    assert bytes(row.raw_value_prefix or b"") == (value or b"")[:1024]


def test_every_record_is_either_valid_or_rejected(spark):
    values = [json.dumps({**GOOD, "transaction_id": f"t{i}"}).encode() for i in range(5)]
    values += [b"nope", None, with_fields(amount=-1)]
    valid_df, rejected_df = split_payments(records(spark, values))
    offsets = sorted([r.kafka_offset for r in valid_df.collect()] + [r.kafka_offset for r in rejected_df.collect()])
    assert offsets == list(range(len(values)))
    assert valid_df.count() == 5


def test_unknown_extra_fields_are_ignored(spark):
    valid_df, _ = split_payments(records(spark, [with_fields(channel="web", meta={"x": [1]})]))
    assert [r.transaction_id for r in valid_df.collect()] == ["tx-1"]


def test_only_a_valid_record_carries_an_event_time(spark):
    """event_time is the watermark's column: a rejected message must not move the watermark."""
    from events.parse import parse_records

    parsed_df = parse_records(records(spark, [json.dumps(GOOD).encode(), with_fields(amount=-1)]))
    actual_df = parsed_df.select("kafka_offset", "reason_code", "event_time")
    expected_df = spark.createDataFrame([(0, None, datetime(2018, 4, 1, 0, 7, 56)), (1, "AMOUNT_OUT_OF_RANGE", None)],
                                        "kafka_offset long, reason_code string, event_time timestamp")
    assert_df_equality(actual_df, expected_df, ignore_nullable=True, ignore_row_order=True)


def test_an_event_time_far_from_the_kafka_timestamp_is_rejected_with_its_own_reason(spark):
    """A payment dated 2999 would move the watermark to 2999; one a minute ahead is clock skew."""
    from events.contract import EventTimeBounds
    from events.parse import parse_records

    values = [with_fields(transaction_id="future", event_time="2999-01-01T00:00:00Z"),
              with_fields(transaction_id="skew", event_time="2024-01-01T12:01:00Z"),
              with_fields(transaction_id="ancient", event_time="1990-01-01T00:00:00Z"),
              with_fields(transaction_id="old", event_time="2023-12-01T00:00:00Z")]
    parsed_df = parse_records(records(spark, values),
                              event_time_bounds=EventTimeBounds(future=pd.Timedelta(hours=1).to_pytimedelta(),
                                                                past=pd.Timedelta(days=365).to_pytimedelta()))
    actual = {r.transaction_id: (r.reason_code, r.reason_message) for r in parsed_df.collect()}
    assert actual["future"][0] == actual["ancient"][0] == Reason.EVENT_TIME_OUT_OF_RANGE
    assert "2999-01-01T00:00:00Z" in actual["future"][1] and "2024-01-01T12:00:00Z" in actual["future"][1]
    assert actual["skew"] == (None, None) and actual["old"] == (None, None)


@pytest.mark.parametrize("changes", [
    {"transaction_id": "tx-1\n"}, {"transaction_id": "tx-1\r\n"}, {"customer_id": "C1\n"},
    {"customer_id": "C\u200b1"}, {"terminal_id": "T 1"}, {"terminal_id": "T\u202e1"}, {"customer_id": "\u00a0"},
], ids=["id-newline", "id-crlf", "customer-newline", "zero-width", "space", "bidi-override", "nbsp"])
def test_an_id_is_checked_as_a_whole_string_without_invisible_characters(spark, changes):
    """"tx-1\n" must not sit beside "tx-1" as another payment (two rows, two alerts)."""
    _, rejected_df = split_payments(records(spark, [with_fields(**changes)]))
    assert [r.reason_code for r in rejected_df.collect()] == [Reason.BAD_ID]


def test_a_zero_amount_authorisation_is_a_payment_and_a_negative_amount_is_not(spark):
    valid_df, rejected_df = split_payments(records(spark, [with_fields(amount=0), with_fields(amount=-0.01)]))
    assert [(r.transaction_id, r.amount) for r in valid_df.collect()] == [("tx-1", Decimal("0.00"))]
    assert [r.reason_code for r in rejected_df.collect()] == [Reason.AMOUNT_OUT_OF_RANGE]


def test_a_reason_message_is_bounded_whatever_the_field_it_quotes(spark):
    from events.contract import MAX_REASON_MESSAGE_CHARS
    from events.parse import parse_records

    parsed_df = parse_records(records(spark, [with_fields(currency="X" * 10_000)]))
    row = parsed_df.first()
    assert row.reason_code == Reason.BAD_CURRENCY and len(row.reason_message) == MAX_REASON_MESSAGE_CHARS


def test_rejected_and_label_frames_have_the_declared_schemas(spark):
    from chispa.schema_comparer import assert_schema_equality

    from events.parse import split_labels
    from events.schemas import FRAUD_LABEL_SCHEMA, REJECTED_SCHEMA

    label = (b'{"transaction_id":"t1","customer_id":"C1","terminal_id":"T1","event_time":"2018-04-01T00:00:00Z",'
             b'"is_fraud":true,"labeled_at":"2018-04-08T00:00:00Z"}')
    labels_df, rejected_labels_df = split_labels(records(spark, [label, b'{"is_fraud": "yes"}']))
    _, rejected_df = split_payments(records(spark, [b"nope"]))
    assert_schema_equality(labels_df.schema, FRAUD_LABEL_SCHEMA, ignore_nullable=True)
    assert_schema_equality(rejected_df.schema, REJECTED_SCHEMA, ignore_nullable=True)
    assert_schema_equality(rejected_labels_df.schema, REJECTED_SCHEMA, ignore_nullable=True)
    assert [r.is_fraud for r in labels_df.collect()] == [True]
    assert [r.reason_code for r in rejected_labels_df.collect()] == ["MISSING_FIELD"]


def test_amounts_keep_their_minor_units_and_are_converted_with_the_rates_in_force_at_event_time(spark):
    """conf/currency_rates.yaml: USD 0.8338 from 2018, 0.9615 from 2025; JPY 0.007403; BHD 2.2110.
    Converted amounts are rounded half-even to the base currency's cents; a payment older than
    the first version takes the first version's rate."""
    in_2025 = records(spark, [with_fields(transaction_id="usd-2025", currency="USD", amount=100,
                                          event_time="2025-06-01T00:00:00Z")], kafka_ts=datetime(2025, 6, 1))
    source_df = in_2025.union(records(spark, [
        with_fields(transaction_id="usd-2018", currency="USD", amount=100),
        with_fields(transaction_id="jpy", currency="JPY", amount=15000),  # 111.045 -> 111.04 (half-even)
        with_fields(transaction_id="bhd", currency="BHD", amount=1.235),
        with_fields(transaction_id="half-even", currency="USD", amount=0.15),  # 0.12507 -> 0.13
        with_fields(transaction_id="usd-2017", currency="USD", amount=10, event_time="2017-06-01T00:00:00Z"),
        with_fields(transaction_id="zero", currency="JPY", amount=0),
    ]))
    valid_df, rejected_df = split_payments(source_df)
    actual_df = valid_df.select("transaction_id", "amount", "currency", "amount_base")
    expected_df = spark.createDataFrame([
        ("usd-2018", Decimal("100"), "USD", Decimal("83.38")), ("usd-2025", Decimal("100"), "USD", Decimal("96.15")),
        ("jpy", Decimal("15000"), "JPY", Decimal("111.04")), ("bhd", Decimal("1.235"), "BHD", Decimal("2.73")),
        ("half-even", Decimal("0.15"), "USD", Decimal("0.13")), ("usd-2017", Decimal("10"), "USD", Decimal("8.34")),
        ("zero", Decimal("0"), "JPY", Decimal("0")),
    ], "transaction_id string, amount decimal(19,4), currency string, amount_base decimal(9,2)")
    assert_df_equality(actual_df, expected_df, ignore_nullable=True, ignore_row_order=True)
    assert rejected_df.count() == 0
