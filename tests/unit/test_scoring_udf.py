"""The scoring pandas UDF looks each payment's features up and gives the model's own
probabilities, through Spark's Python workers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.config import load_config
from features.definitions import model_feature_names
from pipeline.scoring_batch import scored_feature_names
from udfs.model_artifact import current_artifact_dir, load_artifact
from udfs.scoring import feature_table, features_and_score_column, row_keys, table_feature_names


def test_udf_scores_equal_the_pipelines_probabilities_and_skips_unknown_rows(spark):
    config = load_config()
    model_names, stored_names = model_feature_names(config.features), scored_feature_names(config)
    names = table_feature_names(stored_names, model_names)
    artifact = load_artifact(current_artifact_dir(), model_names)
    rng = np.random.default_rng(1)
    features = pd.DataFrame(rng.uniform(0, 1, size=(300, len(names))), columns=names)
    features["amount"] = rng.uniform(1, 400, size=300)
    for name in names:
        if "_count_" in name or name.startswith(("is_", "during_")):
            features[name] = rng.integers(0, 5, size=300)
    offsets = np.arange(300) * 2  # the frame below also holds the odd offsets, which are not in the table
    table = spark.sparkContext.broadcast(feature_table(row_keys(np.ones(300), offsets), features, names))
    frame = spark.createDataFrame([(1, int(o)) for o in range(600)], "kafka_partition int, kafka_offset long")
    column = features_and_score_column(table, stored_names, current_artifact_dir(), model_names)
    rows = frame.select("kafka_offset", column.alias("s")).where("s.found").orderBy("kafka_offset").collect()

    assert [r.kafka_offset for r in rows] == list(offsets)
    expected = artifact.pipeline.predict_proba(features[model_names].to_numpy(dtype=float))[:, 1]
    assert [r.s.score for r in rows] == pytest.approx(list(expected), abs=1e-12)
    assert [r.s.cust_count_7d for r in rows] == list(features["cust_count_7d"])
    assert len(set(np.round(expected, 3))) > 5  # not a constant
    table.destroy()
