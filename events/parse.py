"""Parse Kafka records: each becomes a valid payment, a valid fraud label, or a rejected
message with a reason (never dropped). `parse_records` is defined once on the streaming frame,
so Spark analyses it once, not per micro-batch.

The JSON is parsed into a VARIANT, which keeps each value's JSON type, so a number sent
where the contract wants a string (or the reverse) is told apart from a good value, and
amounts are checked as exact decimals.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from core.config import CurrencyConfig
from core.currencies import ISO_4217_CODES
from events.contract import (
    DEFAULT_CURRENCY,
    MAX_AMOUNT,
    MAX_AMOUNT_AS_SENT,
    MAX_ID_LENGTH,
    MAX_MESSAGE_BYTES,
    MAX_REASON_MESSAGE_CHARS,
    MIN_AMOUNT,
    RAW_PREFIX_BYTES,
    REQUIRED_FIELDS,
    REQUIRED_STRING_FIELDS,
    RFC3339_PATTERN,
    TEXT_ID_PATTERN,
    TRANSACTION_ID_PATTERN,
    EventTimeBounds,
    Reason,
)
from events.conversion import base_amount_column, minor_units_column, rounded_to_minor_units
from events.schemas import AMOUNT_TYPE, FRAUD_LABEL_SCHEMA, PAYMENT_SCHEMA, REJECTED_SCHEMA

_NUMBER_TYPE = r"^(TINYINT|SMALLINT|INT|BIGINT|FLOAT|DOUBLE|DECIMAL\(\d+,\d+\))$"
_EXACT = "decimal(38,10)"
_JSON_OBJECT_START = r"^\s*\{"
LABEL_STRING_FIELDS = ("transaction_id", "customer_id", "terminal_id", "event_time", "labeled_at")
SHARED_FIELDS = ("transaction_id", "customer_id", "terminal_id", "event_time")
PAYMENT_ONLY_FIELDS = ("amount", "currency")
LABEL_ONLY_FIELDS = ("is_fraud", "labeled_at", "labeled_by")
STRING_FIELDS = ("transaction_id", "customer_id", "terminal_id", "event_time", "currency", "labeled_at", "labeled_by")


def json_type(field: str) -> Column:
    """The JSON type of a top-level field of `_doc` (STRING, BIGINT, DECIMAL(p,s), ...); NULL when absent."""
    return F.expr(f"schema_of_variant(variant_get(_doc, '$.{field}'))")


def field_as(field: str, sql_type: str) -> Column:
    """A top-level field of `_doc` cast to sql_type, NULL when absent or not castable."""
    return F.expr(f"try_variant_get(_doc, '$.{field}', '{sql_type}')")


def kind_of(field: str) -> Column:
    return F.col(f"_k_{field}")


def with_json_document(raw_df: DataFrame, max_message_bytes: int) -> DataFrame:
    """Add `_length`, `_utf8`, the parsed VARIANT `_doc` (NULL if not JSON) and `_object`.

    Each step adds all the columns it can at once (every projection is a node Spark analyses)."""
    return (
        raw_df
        .withColumns({"_length": F.coalesce(F.length("value"), F.lit(0)),
                      "_utf8": F.col("value").isNull()
                      | F.expr("try_validate_utf8(cast(value as string))").isNotNull()})
        .withColumn("_doc", F.when(F.col("_utf8") & (F.col("_length") <= max_message_bytes),
                                   F.expr("try_parse_json(cast(value as string))")))
        # Valid JSON whose first non-blank character is '{' is an object (cheaper than its schema).
        .withColumn("_object", F.col("value").cast("string").rlike(_JSON_OBJECT_START))
    )


def with_contract_fields(document_df: DataFrame) -> DataFrame:
    """Add every field either kind of message has: its JSON type (`_k_<name>`) and its value.

    The string fields come out of one struct cast of the document (measured cheaper than one
    variant_get per field); a field of another JSON type is caught by its `_k_` type first."""
    payment, label = ~F.col("_is_label"), F.col("_is_label")
    strings = ", ".join(f"{name} string" for name in STRING_FIELDS)
    typed_df = document_df.withColumns({
        "_strings": F.expr(f"try_variant_get(_doc, '$', 'struct<{strings}>')"),
        **{f"_k_{field}": json_type(field) for field in SHARED_FIELDS},
        **{f"_k_{field}": F.when(payment, json_type(field)) for field in PAYMENT_ONLY_FIELDS},
        **{f"_k_{field}": F.when(label, json_type(field)) for field in LABEL_ONLY_FIELDS},
    })
    text = lambda field: F.col(f"_strings.{field}")  # noqa: E731
    return typed_df.withColumns({
        **{f"_{field}": text(field) for field in ("transaction_id", "customer_id", "terminal_id")},
        "_event_time_text": text("event_time"),
        "_event_time": text("event_time").try_cast("timestamp"),
        "_amount": F.when(payment, field_as("amount", _EXACT)),
        "_currency": F.when(payment, F.coalesce(text("currency"), F.lit(DEFAULT_CURRENCY))),
        "_is_fraud": F.when(label, field_as("is_fraud", "boolean")),
        "_labeled_at_text": F.when(label, text("labeled_at")),
        "_labeled_at": F.when(label, text("labeled_at").try_cast("timestamp")),
        "_labeled_by": F.when(label, text("labeled_by")),
    })


def amount_text() -> Column:
    """The amount as sent, for messages (computed only for a payment that fails an amount check)."""
    return F.coalesce(field_as("amount", "string"), F.lit("?"))


def first_failure(checks: list[tuple[Column, str, Column]]) -> Column:
    """struct(code, message) of the first check that fails, NULL when none does. A message is
    only computed for the check that fails."""
    return F.coalesce(*[F.when(condition, F.struct(F.lit(code).alias("code"), message.alias("message")))
                        for condition, code, message in checks])


def parse_records(records_df: DataFrame, is_label: Column | None = None,
                  max_message_bytes: int = MAX_MESSAGE_BYTES,
                  event_time_bounds: EventTimeBounds = EventTimeBounds(),
                  currency: CurrencyConfig | None = None) -> DataFrame:
    """Kafka records (KAFKA_RECORD_SCHEMA) -> one PARSED_RECORD_SCHEMA row each.

    is_label: which records are fraud labels (e.g. topic = the labels topic); the rest are payments.
    Only a valid record keeps its event_time (the column the watermark is computed from). A
    payment's amount_base is its amount in the base currency (currency: the rates; conf/ by default).
    """
    currency = currency or CurrencyConfig()
    labelled_df = records_df.withColumn("_is_label", is_label if is_label is not None else F.lit(False))
    fields_df = with_base_amount(with_contract_fields(with_json_document(labelled_df, max_message_bytes)), currency)
    time_check = event_time_check(event_time_bounds)
    reason = F.when(F.col("_is_label"), first_failure([*label_checks(max_message_bytes), time_check])).otherwise(
        first_failure([*payment_checks(max_message_bytes), time_check, *conversion_checks(currency)]))
    checked_df = fields_df.withColumn("_reason", reason)
    rejected, label = F.col("_reason").isNotNull(), F.col("_is_label")
    return checked_df.select(
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
        label.alias("is_label"),
        F.col("_reason.code").alias("reason_code"),
        F.substring("_reason.message", 1, MAX_REASON_MESSAGE_CHARS).alias("reason_message"),
        # Labels keep it too: the customer operator may still reject one (LABEL_UNKNOWN_TRANSACTION).
        F.when(rejected | label, F.substring("value", 1, RAW_PREFIX_BYTES)).alias("raw_value_prefix"),
        F.col("_length").cast("int").alias("raw_value_length"),
        F.col("_transaction_id").alias("transaction_id"),
        F.col("_customer_id").alias("customer_id"),
        F.col("_terminal_id").alias("terminal_id"),
        F.when(~rejected, F.col("_amount").try_cast(AMOUNT_TYPE)).alias("amount"),
        F.col("_currency").alias("currency"),
        F.when(~rejected, F.col("_amount_base")).alias("amount_base"),
        F.when(~rejected, F.col("_event_time")).alias("event_time"),
        F.col("_is_fraud").alias("is_fraud"),
        F.col("_labeled_at").alias("labeled_at"),
        F.col("_labeled_by").alias("labeled_by"),
    )


def amount_in_range() -> Column:
    return (F.col("_amount") >= MIN_AMOUNT) & (F.col("_amount") <= MAX_AMOUNT_AS_SENT)


def with_base_amount(fields_df: DataFrame, currency: CurrencyConfig) -> DataFrame:
    """+ `_amount_base`: a payment's amount in the base currency at its event time (NULL when its
    amount is out of range or its currency has no rate then)."""
    converted = base_amount_column(currency, F.col("_amount"), F.col("_currency"), F.col("_event_time"))
    return fields_df.withColumn("_amount_base", F.when(~F.col("_is_label") & amount_in_range(), converted))


def conversion_checks(currency: CurrencyConfig) -> list[tuple[Column, str, Column]]:
    """A payment's currency has a rate at its event time, and its converted amount is in range
    (checked after the event time is)."""
    return [
        (F.col("_amount_base").isNull(), Reason.CURRENCY_NOT_CONVERTIBLE,
         F.concat(F.lit("no exchange rate from "), F.col("_currency"), F.lit(f" to {currency.base} at "),
                  F.col("_event_time_text"), F.lit(" (conf/currency_rates.yaml)"))),
        (F.col("_amount_base") > MAX_AMOUNT, Reason.AMOUNT_OUT_OF_RANGE,
         F.concat(amount_text(), F.lit(" "), F.col("_currency"), F.lit(" is "), F.col("_amount_base").cast("string"),
                  F.lit(f" {currency.base}; the limit is {MAX_AMOUNT} {currency.base}"))),
    ]


def event_time_check(bounds: EventTimeBounds) -> tuple[Column, str, Column]:
    """event_time within bounds of the record's Kafka timestamp (checked after its format)."""
    sent = F.col("timestamp")
    earliest = sent - F.make_dt_interval(secs=F.lit(bounds.past.total_seconds()))
    latest = sent + F.make_dt_interval(secs=F.lit(bounds.future.total_seconds()))
    event_time = F.col("_event_time")
    return ((event_time > latest) | (event_time < earliest), Reason.EVENT_TIME_OUT_OF_RANGE,
            F.concat(F.lit("event_time "), F.col("_event_time_text"),
                     F.lit(f" is more than {_describe(bounds.future)} after or {_describe(bounds.past)} before "
                           "the record's Kafka timestamp "), F.date_format(sent, "yyyy-MM-dd'T'HH:mm:ss'Z'")))


def _describe(span) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours / 24:g} days" if hours >= 48 else f"{hours:g} hours"


def envelope_checks(max_message_bytes: int) -> list[tuple[Column, str, Column]]:
    """Checks every message kind shares: UTF-8, size, JSON object."""
    return [
        (~F.col("_utf8"), Reason.NOT_UTF8, F.lit("value is not valid UTF-8")),
        (F.col("_length") > max_message_bytes, Reason.OVERSIZE,
         F.format_string(f"value is %d bytes; the limit is {max_message_bytes}", F.col("_length"))),
        (F.col("_doc").isNull(), Reason.BAD_JSON,
         F.lit("value is not valid JSON (malformed, empty, or a key repeated)")),
        (~F.col("_object"), Reason.BAD_JSON,
         F.concat(F.lit("value must be a JSON object, got "), F.expr("schema_of_variant(_doc)"))),
    ]


def payment_checks(max_message_bytes: int) -> list[tuple[Column, str, Column]]:
    """(condition that makes a payment invalid, reason code, readable message), first match wins."""
    checks = envelope_checks(max_message_bytes)
    for field in REQUIRED_FIELDS:
        kind = kind_of(field)
        checks.append((kind.isNull() | (kind == "VOID"), Reason.MISSING_FIELD,
                       F.lit(f"required field '{field}' is missing or null")))
    for field in REQUIRED_STRING_FIELDS + ("currency",):
        kind = kind_of(field)
        checks.append((kind.isNotNull() & (kind != "VOID") & (kind != "STRING"), Reason.WRONG_TYPE,
                       F.concat(F.lit(f"field '{field}' must be a JSON string, got "), kind)))
    amount_kind = kind_of("amount")
    checks += [
        (~amount_kind.rlike(_NUMBER_TYPE), Reason.WRONG_TYPE,
         F.concat(F.lit("field 'amount' must be a JSON number, got "), amount_kind)),
        (~F.col("_transaction_id").rlike(TRANSACTION_ID_PATTERN), Reason.BAD_ID,
         F.lit("transaction_id must be 1-64 characters of A-Za-z0-9_.:-")),
        (_bad_text_id(F.col("_customer_id")), Reason.BAD_ID,
         F.lit("customer_id must be 1-64 characters, none of them control, format or separator characters")),
        (_bad_text_id(F.col("_terminal_id")), Reason.BAD_ID,
         F.lit("terminal_id must be 1-64 characters, none of them control, format or separator characters")),
        (F.col("_amount").isNull() | ~amount_in_range(), Reason.AMOUNT_OUT_OF_RANGE,
         F.concat(F.lit(f"amount must be >= {MIN_AMOUNT} and at most {MAX_AMOUNT} in the base currency, got "),
                  amount_text())),
        (F.col("_amount") != rounded_to_minor_units(F.col("_amount"), minor_units_column(F.col("_currency"))),
         Reason.AMOUNT_PRECISION,
         F.concat(F.lit("amount has more decimals than "), F.col("_currency"), F.lit(" allows ("),
                  minor_units_column(F.col("_currency")).cast("string"), F.lit("): "), amount_text())),
        (~F.col("_currency").isin(*sorted(ISO_4217_CODES)), Reason.BAD_CURRENCY,
         F.concat(F.lit("currency is not an ISO 4217 code: "), F.col("_currency"))),
        (~F.col("_event_time_text").rlike(RFC3339_PATTERN) | F.col("_event_time").isNull(),
         Reason.BAD_TIMESTAMP,
         F.concat(F.lit("event_time is not an RFC 3339 timestamp with offset: "),
                  F.col("_event_time_text"))),
    ]
    return checks


def label_checks(max_message_bytes: int) -> list[tuple[Column, str, Column]]:
    """(condition that makes a fraud label invalid, reason code, readable message), first match wins."""
    checks = envelope_checks(max_message_bytes)
    for field in LABEL_STRING_FIELDS + ("is_fraud",):
        kind = kind_of(field)
        checks.append((kind.isNull() | (kind == "VOID"), Reason.MISSING_FIELD,
                       F.lit(f"required field '{field}' is missing or null")))
    for field in LABEL_STRING_FIELDS:
        kind = kind_of(field)
        checks.append((kind != "STRING", Reason.WRONG_TYPE,
                       F.concat(F.lit(f"field '{field}' must be a JSON string, got "), kind)))
    is_fraud_kind, labeled_by_kind = kind_of("is_fraud"), kind_of("labeled_by")
    checks += [
        (labeled_by_kind.isNotNull() & (labeled_by_kind != "STRING"), Reason.WRONG_TYPE,
         F.concat(F.lit("field 'labeled_by' must be a JSON string, got "), labeled_by_kind)),
        (is_fraud_kind != "BOOLEAN", Reason.WRONG_TYPE,
         F.concat(F.lit("field 'is_fraud' must be true or false, got "), is_fraud_kind)),
        (~F.col("_transaction_id").rlike(TRANSACTION_ID_PATTERN), Reason.BAD_ID,
         F.lit("transaction_id must be 1-64 characters of A-Za-z0-9_.:-")),
        (_bad_text_id(F.col("_terminal_id")) | _bad_text_id(F.col("_customer_id")), Reason.BAD_ID,
         F.lit("customer_id and terminal_id must be 1-64 characters, none of them control, format or separator "
               "characters")),
        (F.col("_labeled_by").isNotNull() & _bad_text_id(F.col("_labeled_by")), Reason.BAD_ID,
         F.lit("labeled_by must be 1-64 characters, none of them control, format or separator characters")),
        (~F.col("_event_time_text").rlike(RFC3339_PATTERN) | F.col("_event_time").isNull()
         | ~F.col("_labeled_at_text").rlike(RFC3339_PATTERN) | F.col("_labeled_at").isNull(),
         Reason.BAD_TIMESTAMP, F.lit("event_time and labeled_at must be RFC 3339 timestamps with offset")),
    ]
    return checks


def _bad_text_id(value: Column) -> Column:
    """Not 1-64 characters (counted as Unicode code points), or holding a character an id may not."""
    return (F.char_length(value) < 1) | (F.char_length(value) > MAX_ID_LENGTH) | ~value.rlike(TEXT_ID_PATTERN)


def valid_payments(parsed_df: DataFrame) -> DataFrame:
    """The valid payments of parsed records, in PAYMENT_SCHEMA's columns."""
    return (parsed_df.where(~F.col("is_label") & F.col("reason_code").isNull())
            .select(*PAYMENT_SCHEMA.fieldNames()))


def valid_labels(parsed_df: DataFrame) -> DataFrame:
    """The valid fraud labels of parsed records, in FRAUD_LABEL_SCHEMA's columns."""
    return (parsed_df.where(F.col("is_label") & F.col("reason_code").isNull())
            .select(*FRAUD_LABEL_SCHEMA.fieldNames()))


def rejected_messages(parsed_df: DataFrame) -> DataFrame:
    """The records that are neither, with reason and a bounded prefix of the raw bytes (REJECTED_SCHEMA)."""
    return parsed_df.where(F.col("reason_code").isNotNull()).select(*REJECTED_SCHEMA.fieldNames())


def split_payments(raw_df: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(valid payments, rejected messages) of records that are all payments."""
    parsed_df = parse_records(raw_df)
    return valid_payments(parsed_df), rejected_messages(parsed_df)


def split_labels(raw_df: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(valid fraud labels, rejected messages) of records that are all fraud labels."""
    parsed_df = parse_records(raw_df, F.lit(True))
    return valid_labels(parsed_df), rejected_messages(parsed_df)
