"""Training pieces: the time-based split, card precision@k, the artifact checks, reproducibility."""
from __future__ import annotations

import json
import shutil
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from core.config import load_config
from features.batch import compute_features, labels_after_delay
from features.definitions import model_feature_names
from generator.simulator import SimulationParams, generate
from training.metrics import card_precision_at_k
from training.split import SplitPlan, train_test_split
from training.train import fit_and_compare
from udfs.model_artifact import ModelArtifactError, current_artifact_dir, load_artifact, read_metadata

START = pd.Timestamp("2018-07-25", tz="UTC")


def frame(rows: list[tuple[int, str, bool]]) -> pd.DataFrame:
    return pd.DataFrame({"event_time": [START + pd.Timedelta(days=d, hours=1) for d, _, _ in rows],
                         "customer_id": [c for _, c, _ in rows], "is_fraud": [f for _, _, f in rows]})


def test_split_skips_the_delay_and_removes_known_compromised_customers():
    data = frame([(0, "A", True), (3, "B", False), (7, "C", False), (9, "D", True),
                  (14, "A", True), (14, "B", False), (14, "C", False), (15, "D", True), (16, "E", False)])
    train, test = train_test_split(data, SplitPlan(START))
    assert sorted(train["customer_id"]) == ["A", "B"]
    # A is known from training. D's fraud on day 9 (in the delay period) is labelled by day 16,
    # so it counts from test day 16 on (test day 14 + o knows frauds up to day 6 + o): D on day 15 stays.
    assert sorted(test["customer_id"]) == ["B", "C", "D", "E"]
    data = frame([(9, "D", True), (17, "D", True)])
    assert train_test_split(data, SplitPlan(START))[1].empty


def test_card_precision_counts_customers_once_and_drops_earlier_detections():
    day = lambda d: START + pd.Timedelta(days=d)  # noqa: E731
    test = pd.DataFrame({"event_time": [day(0), day(0), day(0), day(1), day(1)],
                         "customer_id": ["A", "A", "B", "A", "C"], "is_fraud": [1, 1, 0, 1, 1]})
    scores = np.array([0.9, 0.8, 0.7, 0.99, 0.1])
    # day 0: top-2 customers A (fraud), B -> 1/2; day 1: A already detected, C fraud -> 1/2
    assert card_precision_at_k(test, scores, k=2) == pytest.approx(0.5)


def test_artifact_with_other_features_or_sklearn_is_refused(tmp_path):
    source = current_artifact_dir()
    names = model_feature_names(load_config().features)
    assert load_artifact(source, names).version == read_metadata(source)["version"]
    with pytest.raises(ModelArtifactError, match="expects features"):
        load_artifact(source, names[:-1])
    copy = tmp_path / "artifact"
    shutil.copytree(source, copy)
    metadata = read_metadata(copy)
    metadata["library_versions"]["scikit-learn"] = "0.24.2"
    (copy / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ModelArtifactError, match="trained with scikit-learn 0.24.2"):
        load_artifact(copy, names)


def test_committed_model_meets_the_targets_and_is_reproducible(spark, default_dataset):
    metadata = read_metadata(current_artifact_dir())
    assert metadata["metrics"]["average_precision"] >= 0.65
    assert metadata["metrics"]["card_precision_at_100"] >= 0.28
    config = load_config()
    seed = metadata["dataset"]["seed"]
    dataset = default_dataset[0] if seed == SimulationParams().seed else generate(SimulationParams(seed=seed))[0]
    features = compute_features(spark, dataset, labels_after_delay(dataset, timedelta(days=7)), config.features)
    data = pd.concat([dataset[["customer_id", "event_time", "is_fraud", "amount"]],
                      features.drop(columns=["amount"])], axis=1)
    result = fit_and_compare(data, model_feature_names(config.features),
                             SplitPlan(pd.Timestamp(metadata["split"]["train"][0], tz="UTC")))
    assert result.best == metadata["model"]
    assert result.validation == metadata["candidates"]
    assert result.test_metrics == metadata["metrics"] and result.thresholds == metadata["thresholds"]


def test_the_model_is_chosen_on_the_validation_week_just_before_the_test_week():
    plan = SplitPlan(START)
    validation = plan.validation_plan()
    assert plan.describe()["test"] == ["2018-08-08", "2018-08-14"]
    assert validation.describe() == {"train": ["2018-07-18", "2018-07-24"], "test": ["2018-08-01", "2018-08-07"],
                                     "delay_days": 7}
    assert validation.test_start + pd.Timedelta(days=validation.test_days) == plan.test_start  # no overlap
