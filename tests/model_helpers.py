"""Small real model artifacts for the registry and hot-swap tests (a logistic regression fitted
on random rows with the stream's feature names, saved the way training saves one), and the
model settings of tests whose subject is not the model."""
from __future__ import annotations

import shutil
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path

import numpy as np

from core.config import AppConfig
from udfs.model_artifact import current_artifact_dir, save_artifact

# For tests whose subject is the accounting, the dead letters, the features or the cluster's
# division of work: a fresh stream of
# generated payments starts with no history, and its first micro-batches send a third of their
# payments to review (low 30-day counts; the poison test's made-up payments all go). Tree SHAP for
# each (6-12 ms of a core) was most of those tests' time (make bench-cold-start: 146 s vs 70 s).
# tests/integration/test_scoring_end_to_end.py, test_crash_recovery.py and test_tls.py keep the
# explanations on through the job; `make cluster-run` runs them on the cluster.
WITHOUT_EXPLANATIONS = {"explain_alerts": False}


def without_explanations(config: AppConfig) -> AppConfig:
    """The config with alerts scored and decided as always, not explained."""
    return config.model_copy(update={"model": replace(config.model, **WITHOUT_EXPLANATIONS)})


def tiny_artifact(artifacts_dir: Path, name: str, feature_names: list[str], seed: int = 0,
                  thresholds: dict | None = None) -> Path:
    """A real scikit-learn pipeline under artifacts_dir/name, scoring the given features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    rows = rng.uniform(0, 100, size=(400, len(feature_names)))
    labels = (rows[:, 0] + rng.normal(0, 20, size=400) > 60).astype(int)
    pipeline = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())]).fit(rows, labels)
    metadata = {"version": name, "model": "logistic_regression", "created_at": f"2026-12-0{seed % 9 + 1}T00:00:00Z",
                "feature_names": list(feature_names), "library_versions": {"scikit-learn": version("scikit-learn")},
                "thresholds": thresholds or {"review": 0.5, "decline": 0.9}}
    folder = artifacts_dir / name
    save_artifact(folder, pipeline, metadata)
    return folder


def copy_current_artifact(artifacts_dir: Path) -> str:
    """The project's current model, copied under artifacts_dir; returns its version."""
    source = current_artifact_dir()
    shutil.copytree(source, artifacts_dir / source.name)
    return source.name
