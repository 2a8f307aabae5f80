"""Explained alerts: the UDF gives each alert its three largest tree SHAP contributions (as the
shap library computes them on the model's own estimator), and nothing to other rows."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import shap
from pyspark.sql import functions as F

from core.config import load_config
from features.definitions import model_feature_names, stored_feature_names
from pipeline.model_swap import scoring_transform
from tests.model_helpers import tiny_artifact
from tests.unit.test_scoring_udf import ROWS, payments_frame, random_features, sample_payments
from udfs.explain import explanation_column, top_contributions
from udfs.model_artifact import current_artifact_dir, load_artifact
from udfs.scoring import ScoringModels


def test_top_contributions_are_the_largest_by_absolute_value_with_their_sign():
    values = np.array([[0.1, -0.5, 0.2, 0.05], [0.0, 0.01, -0.02, 0.3]])
    assert top_contributions(values, ["a", "b", "c", "d"]) == ["b:-0.500,c:+0.200,a:+0.100",
                                                               "d:+0.300,c:-0.020,b:+0.010"]


def explained_rows(spark, artifact, seed: int):
    """(model inputs, explanation) of ROWS payments, every other one an alert."""
    config = load_config()
    names, stored = model_feature_names(config.features), stored_feature_names(config.features)
    rng = np.random.default_rng(seed)
    amounts = np.round(rng.uniform(1, 400, size=ROWS), 2)
    features = random_features(stored, rng)
    frame = payments_frame(spark, sample_payments(amounts), features, stored)
    alert = F.col("kafka_offset") % 2 == 0
    rows = frame.select("kafka_offset", explanation_column(artifact, alert).alias("top_features")) \
        .orderBy("kafka_offset").collect()
    return features.assign(amount=amounts)[names].to_numpy(dtype=float), [r.top_features for r in rows], names


def test_alerts_get_the_tree_shap_top_three_and_other_rows_nothing(spark):
    config = load_config()
    artifact = load_artifact(current_artifact_dir(), model_feature_names(config.features))
    inputs, explained, names = explained_rows(spark, artifact, seed=5)
    scaler, forest = artifact.pipeline[:-1], artifact.pipeline.steps[-1][1]
    values = np.asarray(shap.TreeExplainer(forest).shap_values(scaler.transform(inputs[::2]),
                                                               check_additivity=False))[..., 1]
    assert explained[::2] == top_contributions(values, names)
    assert set(explained[1::2]) == {None}


def test_a_linear_model_is_explained_by_its_exact_contributions(spark, tmp_path):
    names = model_feature_names(load_config().features)
    artifact = load_artifact(tiny_artifact(tmp_path, "tiny-linear", names, seed=6), names)
    inputs, explained, _ = explained_rows(spark, artifact, seed=6)
    scaler, linear = artifact.pipeline[:-1], artifact.pipeline.steps[-1][1]
    values = scaler.transform(inputs[::2]) * linear.coef_.reshape(1, -1)
    assert explained[::2] == top_contributions(values, names)


def test_the_scoring_stage_explains_alerts_only_and_not_at_all_when_switched_off(spark):
    config = load_config()
    stored = stored_feature_names(config.features)
    artifact = load_artifact(current_artifact_dir(), model_feature_names(config.features))
    features = random_features(stored, np.random.default_rng(7))
    frame = payments_frame(spark, sample_payments(np.full(ROWS, 6000.0)), features, stored).withColumns(
        {"reason_code": F.lit(None).cast("string"), "is_label": F.lit(False),
         "duplicate_of": F.lit(None).cast("string")})  # every payment over LARGE_AMOUNT's 5,000: an alert
    for explain, expected in ((True, {3}), (False, {None})):
        switched = config.model_copy(update={"model": replace(config.model, explain_alerts=explain)})
        rows = frame.transform(scoring_transform(switched, ScoringModels(artifact))).collect()
        assert {r.decision for r in rows} <= {"REVIEW", "DECLINED"}
        assert {r.top_features.count(":") if r.top_features else None for r in rows} == expected
