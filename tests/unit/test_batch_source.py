"""The scoring frame over the driver's batch: analysed once, each write reads the rows loaded
for it (through the project's Spark source), with the types the schema gives."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from chispa import assert_df_equality

from core.config import load_config
from pipeline.batch_source import DriverBatchFrame
from pipeline.driver_batch import payments_schema, payments_table
from pipeline.scoring_batch import scored_feature_names, scoring_input_schema
from tests.unit.test_scoring_udf import random_features, sample_payments


def batch_table(offset: int, batch_id: int, rows: int = 300):
    names = scored_feature_names(load_config())
    payments = sample_payments(np.round(np.linspace(1, 500, rows), 2))
    payments = payments.set_column(payments.schema.get_field_index("transaction_id"), "transaction_id",
                                   pa.array([f"tx-{offset + i}" for i in range(rows)]))
    features = random_features(names, np.random.default_rng(batch_id))
    tags = {"stream_id": "s-1", "batch_id": batch_id}
    return payments_table(payments, features, names, tags), payments_schema(names, tags)


def test_each_write_of_the_one_frame_reads_the_rows_loaded_for_it(spark):
    names = scored_feature_names(load_config())
    batches = DriverBatchFrame(spark, scoring_input_schema(names))
    plan_before = batches.frame._jdf.queryExecution().analyzed().toString()
    for batch_id, offset in ((7, 0), (8, 1000)):
        table, schema = batch_table(offset, batch_id)
        with batches.loaded(table) as frame:
            assert frame.rdd.getNumPartitions() == spark.sparkContext.defaultParallelism
            assert_df_equality(frame, spark.createDataFrame(table, schema), ignore_row_order=True)
    assert batches.frame._jdf.queryExecution().analyzed().toString() == plan_before


def test_a_write_outside_a_loaded_block_fails_with_a_clear_error(spark):
    batches = DriverBatchFrame(spark, scoring_input_schema(scored_feature_names(load_config())))
    with pytest.raises(Exception, match="no driver batch is loaded"):
        batches.frame.count()


def test_a_column_that_does_not_convert_is_refused_before_spark_sees_it(spark):
    names = scored_feature_names(load_config())
    batches = DriverBatchFrame(spark, scoring_input_schema(names))
    table, _ = batch_table(0, 1)
    wrong = table.set_column(table.schema.get_field_index("cust_count_1d"), "cust_count_1d",
                             pa.array(["many"] * table.num_rows))
    with pytest.raises(pa.ArrowInvalid, match="many"):
        with batches.loaded(wrong):
            pass
