"""The scoring plan on a file source with availableNow: the path after the source needs no Kafka."""
from __future__ import annotations

import json
from datetime import datetime

import pytest

from events.schemas import KAFKA_RECORD_SCHEMA
from features.definitions import stored_feature_names
from pipeline.model_swap import fixed_scoring
from pipeline.scoring_query import load_scoring_model, scored_records
from sinks.batch_writer import make_batch_writer
from sinks.kafka_outbox import KafkaOutbox
from sinks.mysql_sink import MySqlBatchSink
from sinks.stream_fence import stream_fence
from tests.kafka_helpers import payment
from udfs.scoring import ScoringModels

pytestmark = pytest.mark.integration


def test_file_stream_of_kafka_shaped_records_is_scored(spark, isolated_config, mysql_connection, unique_id, tmp_path):
    topic = isolated_config.kafka.topics.payments
    records = [(None, json.dumps(payment(f"{unique_id}-{i}", amount=10 + i)).encode(), topic, 0, i,
                datetime(2024, 1, 1)) for i in range(30)]
    records.append((None, b"{broken", topic, 0, 30, datetime(2024, 1, 1)))
    spark.createDataFrame(records, KAFKA_RECORD_SCHEMA).write.parquet(str(tmp_path / "in"))
    model = load_scoring_model(isolated_config)
    write_batch = make_batch_writer(
        MySqlBatchSink(isolated_config.mysql, stored_feature_names(isolated_config.features),
                       stream_fence(isolated_config.mysql, str(tmp_path / "checkpoint"))),
        KafkaOutbox(isolated_config.kafka, isolated_config.mysql), fixed_scoring(isolated_config, ScoringModels(model)))
    records_df = spark.readStream.schema(KAFKA_RECORD_SCHEMA).parquet(str(tmp_path / "in"))
    query = (scored_records(records_df, isolated_config, model, until="features").writeStream
             .foreachBatch(write_batch)
             .option("checkpointLocation", str(tmp_path / "checkpoint")).trigger(availableNow=True).start())
    query.awaitTermination(300)
    assert query.exception() is None
    with mysql_connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*), MIN(cust_count_1d), MAX(cust_count_1d), COUNT(score) "
                       "FROM scored_transactions WHERE stream_id = %s", (str(query.id),))
        assert cursor.fetchone() == (30, 30, 30, 30)  # same customer, same second: all in each window
        cursor.execute("SELECT reason_code FROM rejected_payments WHERE stream_id = %s", (str(query.id),))
        assert cursor.fetchall() == (("BAD_JSON",),)
