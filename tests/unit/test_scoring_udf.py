"""The scoring pandas UDF gives the model's own probabilities, through Spark's Python workers."""
from __future__ import annotations

import numpy as np
import pytest

from core.config import load_config
from features.definitions import model_feature_names
from udfs.model_artifact import current_artifact_dir, load_artifact
from udfs.scoring import score_column


def test_udf_scores_equal_the_pipelines_probabilities(spark):
    names = model_feature_names(load_config().features)
    artifact = load_artifact(current_artifact_dir(), names)
    rng = np.random.default_rng(1)
    rows = rng.uniform(0, 1, size=(300, len(names)))
    rows[:, 0] = rng.uniform(1, 400, size=300)  # amount
    source_df = spark.createDataFrame([tuple(float(v) for v in row) for row in rows], names)
    actual = [r.score for r in source_df.withColumn("score", score_column(current_artifact_dir(), names))
              .select("score").collect()]
    expected = artifact.pipeline.predict_proba(rows)[:, 1]
    assert actual == pytest.approx(list(expected), abs=1e-12)
    assert len(set(np.round(actual, 3))) > 5  # not a constant
