"""Every explicit Spark schema of the project, in one place."""
from __future__ import annotations

from pyspark.sql import types as T

CONTRACT_VERSION = 1

# Columns of Spark's Kafka source that the job keeps.
KAFKA_RECORD_SCHEMA = T.StructType([
    T.StructField("key", T.BinaryType(), True),
    T.StructField("value", T.BinaryType(), True),
    T.StructField("topic", T.StringType(), True),
    T.StructField("partition", T.IntegerType(), True),
    T.StructField("offset", T.LongType(), True),
    T.StructField("timestamp", T.TimestampType(), True),
])

AMOUNT_TYPE = T.DecimalType(19, 4)       # as sent, in its currency's minor units (up to 4: CLF)
BASE_AMOUNT_TYPE = T.DecimalType(9, 2)   # in the base currency (currency.base), what features add

# A valid payment, as the contract (v1) defines it, with where it came from in Kafka.
PAYMENT_SCHEMA = T.StructType([
    T.StructField("transaction_id", T.StringType(), False),
    T.StructField("customer_id", T.StringType(), False),
    T.StructField("terminal_id", T.StringType(), False),
    T.StructField("amount", AMOUNT_TYPE, False),
    T.StructField("currency", T.StringType(), False),
    T.StructField("amount_base", BASE_AMOUNT_TYPE, False),
    T.StructField("event_time", T.TimestampType(), False),
    T.StructField("kafka_partition", T.IntegerType(), False),
    T.StructField("kafka_offset", T.LongType(), False),
    T.StructField("kafka_timestamp", T.TimestampType(), False),
])

# A message that is not a valid payment, kept for inspection (rejected_payments, DLQ).
REJECTED_SCHEMA = T.StructType([
    T.StructField("kafka_topic", T.StringType(), False),
    T.StructField("kafka_partition", T.IntegerType(), False),
    T.StructField("kafka_offset", T.LongType(), False),
    T.StructField("kafka_timestamp", T.TimestampType(), False),
    T.StructField("reason_code", T.StringType(), False),
    T.StructField("reason_message", T.StringType(), False),
    T.StructField("raw_value_prefix", T.BinaryType(), True),
    T.StructField("raw_value_length", T.IntegerType(), False),
])

# A confirmed fraud outcome from payment-labels (stored in fraud_labels).
FRAUD_LABEL_SCHEMA = T.StructType([
    T.StructField("transaction_id", T.StringType(), False),
    T.StructField("customer_id", T.StringType(), False),
    T.StructField("terminal_id", T.StringType(), False),
    T.StructField("event_time", T.TimestampType(), False),
    T.StructField("is_fraud", T.BooleanType(), False),
    T.StructField("labeled_at", T.TimestampType(), False),
    T.StructField("labeled_by", T.StringType(), True),  # who labelled it, when a person did (the dashboard)
    T.StructField("kafka_partition", T.IntegerType(), False),
    T.StructField("kafka_offset", T.LongType(), False),
])

# Every Kafka record after parsing (events/parse.py), one row per record whatever its fate:
# a valid payment, a valid fraud label, or a rejected message (reason_code set). Fields a
# record's kind does not have are NULL; raw_value_prefix is kept only for rejected records.
PARSED_RECORD_SCHEMA = T.StructType([
    T.StructField("kafka_topic", T.StringType(), True),
    T.StructField("kafka_partition", T.IntegerType(), True),
    T.StructField("kafka_offset", T.LongType(), True),
    T.StructField("kafka_timestamp", T.TimestampType(), True),
    T.StructField("is_label", T.BooleanType(), False),
    T.StructField("reason_code", T.StringType(), True),
    T.StructField("reason_message", T.StringType(), True),
    T.StructField("raw_value_prefix", T.BinaryType(), True),
    T.StructField("raw_value_length", T.IntegerType(), False),
    T.StructField("transaction_id", T.StringType(), True),
    T.StructField("customer_id", T.StringType(), True),
    T.StructField("terminal_id", T.StringType(), True),
    T.StructField("amount", AMOUNT_TYPE, True),
    T.StructField("currency", T.StringType(), True),
    T.StructField("amount_base", BASE_AMOUNT_TYPE, True),
    T.StructField("event_time", T.TimestampType(), True),
    T.StructField("is_fraud", T.BooleanType(), True),
    T.StructField("labeled_at", T.TimestampType(), True),
    T.StructField("labeled_by", T.StringType(), True),
])


def feature_field(name: str) -> T.StructField:
    """Spark type of a feature column, by naming convention (counts, flags, amounts)."""
    if "_count_" in name:
        return T.StructField(name, T.LongType(), False)
    if name.startswith(("is_", "during_")):
        return T.StructField(name, T.IntegerType(), False)
    return T.StructField(name, T.DoubleType(), False)


def payment_with_features_schema(feature_names: list[str]) -> T.StructType:
    """A valid payment and the features the operators computed for it: what the model scores."""
    return T.StructType([*PAYMENT_SCHEMA.fields, *[feature_field(name) for name in feature_names]])


def scored_payment_schema(feature_names: list[str]) -> T.StructType:
    """What a decision rule sees: the payment, its features, its score and the model's version."""
    return T.StructType([*payment_with_features_schema(feature_names).fields,
                         T.StructField("score", T.DoubleType(), True),
                         T.StructField("model_version", T.StringType(), True)])


# Columns a scored payment gets after its features (udfs/, decisions/), stored with it.
DECISION_COLUMNS = ("score", "model_version", "shadow_score", "shadow_model_version", "score_band", "reasons",
                    "decision", "rule_errors", "top_features")
# Every row the sink writes names its micro-batch: the streaming query's id and the batch id.
BATCH_TAG_COLUMNS = ("stream_id", "batch_id")
