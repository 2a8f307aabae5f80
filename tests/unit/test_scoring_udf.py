"""The scoring pandas UDF gives the model's own probabilities through Spark's Python workers,
from the features the stateful operators append to the payments."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from chispa import assert_column_equality
from pyspark.sql import functions as F

from core.config import load_config
from events.schemas import payment_with_features_schema
from features.definitions import model_feature_names, stored_feature_names
from tests.model_helpers import tiny_artifact
from udfs.model_artifact import current_artifact_dir, load_artifact
from udfs.scoring import ScoringModels, model_scores_column, shipped_name, with_score

ROWS = 300


def sample_payments(amounts: np.ndarray) -> pa.Table:
    """Valid payments (PAYMENT_SCHEMA's columns) with the given amounts."""
    n = len(amounts)
    moment = pa.array([datetime(2024, 1, 1, tzinfo=UTC)] * n, pa.timestamp("us", tz="UTC"))
    return pa.table({
        "transaction_id": [f"tx-{o}" for o in range(n)], "customer_id": ["c1"] * n, "terminal_id": ["t1"] * n,
        "amount": pa.array([Decimal(f"{a:.2f}") for a in amounts], pa.decimal128(19, 4)),
        "currency": ["EUR"] * n, "amount_base": pa.array([Decimal(f"{a:.2f}") for a in amounts], pa.decimal128(9, 2)),
        "event_time": moment, "kafka_partition": pa.array([1] * n, pa.int32()),
        "kafka_offset": pa.array(range(n), pa.int64()), "kafka_timestamp": moment})


def random_features(names: list[str], rng: np.random.Generator) -> pd.DataFrame:
    """Features of ROWS payments: counts and flags as integers, the rest uniform in [0, 1)."""
    features = pd.DataFrame(rng.uniform(0, 1, size=(ROWS, len(names))), columns=names)
    for name in names:
        if "_count_" in name or name.startswith(("is_", "during_")):
            features[name] = rng.integers(0, 5, size=ROWS)
    return features


def payments_frame(spark, payments: pa.Table, features: pd.DataFrame, names: list[str]):
    """The payments with their features, as the operators give them to the scoring stage."""
    schema = payment_with_features_schema(names)
    columns = {name: pa.array(features[name].to_numpy(dtype=np.float64)).cast(
        pa.int64() if schema[name].dataType.typeName() == "long" else
        pa.int32() if schema[name].dataType.typeName() == "integer" else pa.float64()) for name in names}
    table = pa.Table.from_arrays([*payments.columns, *columns.values()], names=[*payments.column_names, *columns])
    return spark.createDataFrame(table.to_pandas(), schema)


def test_udf_scores_equal_the_pipelines_probabilities(spark):
    config = load_config()
    model_names, stored_names = model_feature_names(config.features), stored_feature_names(config.features)
    artifact = load_artifact(current_artifact_dir(), model_names)
    rng = np.random.default_rng(1)
    amounts = np.round(rng.uniform(1, 400, size=ROWS), 2)
    features = random_features(stored_names, rng)
    frame = payments_frame(spark, sample_payments(amounts), features, stored_names)
    column = model_scores_column(ScoringModels(artifact), model_names).score
    rows = frame.select("kafka_offset", "cust_count_7d", column.alias("score")).orderBy("kafka_offset").collect()

    inputs = features.assign(amount=amounts)[model_names].to_numpy(dtype=float)
    expected = artifact.pipeline.predict_proba(inputs)[:, 1]
    assert [r.kafka_offset for r in rows] == list(range(ROWS))
    assert [r.score for r in rows] == pytest.approx(list(expected), abs=1e-12)
    assert [r.cust_count_7d for r in rows] == list(features["cust_count_7d"])
    assert len(set(np.round(expected, 3))) > 5  # not a constant


def test_only_scored_rows_get_a_score_and_their_scores_do_not_depend_on_the_others(spark):
    """Labels and rejected messages pass through the scoring stage with NULL inputs: they get no
    score or model version, and the payments' scores are what they are alone."""
    config = load_config()
    stored_names = stored_feature_names(config.features)
    artifact = load_artifact(current_artifact_dir(), model_feature_names(config.features))
    features = random_features(stored_names, np.random.default_rng(2))
    frame = payments_frame(spark, sample_payments(np.full(ROWS, 10.0)), features, stored_names)
    source_df = frame.withColumn("is_scored", F.col("kafka_offset") % 3 != 0)
    for name in stored_names:  # what a label's row holds in the feature columns
        source_df = source_df.withColumn(name, F.when(F.col("is_scored"), F.col(name)))
    actual_df = source_df.transform(with_score(artifact, F.col("is_scored")))
    alone_df = frame.where(F.col("kafka_offset") % 3 != 0).select(
        "kafka_offset", model_scores_column(ScoringModels(artifact), artifact.feature_names).score.alias("expected"))
    joined_df = actual_df.join(alone_df, "kafka_offset", "left")
    assert_column_equality(joined_df, "score", "expected")
    assert actual_df.where("NOT is_scored AND model_version IS NULL").count() == ROWS // 3


def test_the_shadow_model_is_scored_in_the_same_pass_and_stored_beside_the_champions_score(spark, tmp_path):
    """Champion and shadow each give their own pipeline's probabilities; versions per row; the
    shadow never replaces the champion's score."""
    config = load_config()
    model_names, stored_names = model_feature_names(config.features), stored_feature_names(config.features)
    champion = load_artifact(current_artifact_dir(), model_names)
    shadow = load_artifact(tiny_artifact(tmp_path, "tiny-shadow", model_names, seed=3), model_names)
    rng = np.random.default_rng(4)
    amounts = np.round(rng.uniform(1, 400, size=ROWS), 2)
    features = random_features(stored_names, rng)
    frame = payments_frame(spark, sample_payments(amounts), features, stored_names).withColumn("is_scored", F.lit(True))
    rows = (frame.transform(with_score(ScoringModels(champion, shadow), F.col("is_scored")))
            .orderBy("kafka_offset").collect())

    inputs = features.assign(amount=amounts)[model_names].to_numpy(dtype=float)
    assert [r.score for r in rows] == pytest.approx(list(champion.pipeline.predict_proba(inputs)[:, 1]), abs=1e-12)
    assert [r.shadow_score for r in rows] == pytest.approx(list(shadow.pipeline.predict_proba(inputs)[:, 1]), abs=1e-12)
    assert {(r.model_version, r.shadow_model_version) for r in rows} == {(champion.version, "tiny-shadow")}
    assert any(abs(r.score - r.shadow_score) > 0.01 for r in rows)  # two different models


def test_two_folders_of_one_version_name_are_shipped_under_different_names(tmp_path):
    """An executor must never load one artifacts folder's model for another's of the same version name."""
    first, second = tmp_path / "a" / "tiny-1", tmp_path / "b" / "tiny-1"
    assert shipped_name(first) != shipped_name(second)
    assert shipped_name(first) == shipped_name(tmp_path / "a" / "tiny-1") and shipped_name(first).startswith("tiny-1-")
