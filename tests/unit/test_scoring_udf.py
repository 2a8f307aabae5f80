"""The scoring pandas UDF gives the model's own probabilities through Spark's Python workers,
from the features the driver appends to the payments."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from core.config import load_config
from features.definitions import model_feature_names
from pipeline.driver_batch import payments_frame
from pipeline.scoring_batch import scored_feature_names
from udfs.model_artifact import current_artifact_dir, load_artifact
from udfs.scoring import model_score_column

ROWS = 300


def sample_payments(amounts: np.ndarray) -> pa.Table:
    """Valid payments (PAYMENT_SCHEMA's columns, as the driver holds them) with the given amounts."""
    n = len(amounts)
    moment = pa.array([datetime(2024, 1, 1, tzinfo=timezone.utc)] * n, pa.timestamp("us", tz="UTC"))
    return pa.table({
        "transaction_id": [f"tx-{o}" for o in range(n)], "customer_id": ["c1"] * n, "terminal_id": ["t1"] * n,
        "amount": pa.array([Decimal(f"{a:.2f}") for a in amounts], pa.decimal128(9, 2)),
        "currency": ["EUR"] * n, "event_time": moment, "kafka_partition": pa.array([1] * n, pa.int32()),
        "kafka_offset": pa.array(range(n), pa.int64()), "kafka_timestamp": moment})


def random_features(names: list[str], rng: np.random.Generator) -> pd.DataFrame:
    """Features of ROWS payments: counts and flags as integers, the rest uniform in [0, 1)."""
    features = pd.DataFrame(rng.uniform(0, 1, size=(ROWS, len(names))), columns=names)
    for name in names:
        if "_count_" in name or name.startswith(("is_", "during_")):
            features[name] = rng.integers(0, 5, size=ROWS)
    return features


def test_udf_scores_equal_the_pipelines_probabilities(spark):
    config = load_config()
    model_names, stored_names = model_feature_names(config.features), scored_feature_names(config)
    artifact = load_artifact(current_artifact_dir(), model_names)
    rng = np.random.default_rng(1)
    amounts = np.round(rng.uniform(1, 400, size=ROWS), 2)
    features = random_features(stored_names, rng)
    frame = payments_frame(spark, sample_payments(amounts), features, stored_names)
    column = model_score_column(current_artifact_dir(), model_names)
    rows = frame.select("kafka_offset", "cust_count_7d", column.alias("score")).orderBy("kafka_offset").collect()

    inputs = features.assign(amount=amounts)[model_names].to_numpy(dtype=float)
    expected = artifact.pipeline.predict_proba(inputs)[:, 1]
    assert [r.kafka_offset for r in rows] == list(range(ROWS))
    assert [r.score for r in rows] == pytest.approx(list(expected), abs=1e-12)
    assert [r.cust_count_7d for r in rows] == list(features["cust_count_7d"])
    assert len(set(np.round(expected, 3))) > 5  # not a constant


def test_missing_feature_values_reach_spark_as_zero(spark):
    config = load_config()
    stored_names = scored_feature_names(config)
    features = random_features(stored_names, np.random.default_rng(2))
    features.loc[0, "term_risk_7d"] = np.nan
    frame = payments_frame(spark, sample_payments(np.full(ROWS, 10.0)), features, stored_names)
    first = frame.where("kafka_offset = 0").first()

    assert first.term_risk_7d == 0.0
    assert frame.schema["cust_count_7d"].dataType.typeName() == "long"
