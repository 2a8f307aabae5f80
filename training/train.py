"""Train the candidates on the validation split, keep the best by its average precision, report
the test period once."""
from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass
from datetime import UTC, datetime

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.metrics import precision_recall_curve
from sklearn.pipeline import Pipeline

from training.candidates import candidate_models
from training.metrics import evaluate
from training.split import SplitPlan, train_test_split

SCORE_BINS = np.linspace(0, 1, 21)


@dataclass(frozen=True)
class TrainingResult:
    """The model chosen on the validation period, refitted on the test split's training period and
    evaluated once on the test period."""

    best: str
    pipeline: Pipeline
    validation: dict      # every candidate's metrics on the validation period (the choice)
    test_metrics: dict    # the chosen model's metrics on the test period
    thresholds: dict      # REVIEW / DECLINE chosen on the validation period
    train: pd.DataFrame
    test: pd.DataFrame
    test_scores: np.ndarray


def features_and_labels(rows: pd.DataFrame, feature_names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    return rows[feature_names].to_numpy(dtype=float), rows["is_fraud"].astype(int).to_numpy()


def fit_and_compare(frame: pd.DataFrame, feature_names: list[str], plan: SplitPlan, seed: int = 0) -> TrainingResult:
    """Fit every candidate on the validation split, keep the best by validation average precision and
    its thresholds there; refit it on the test split's training period; evaluate it on the test period."""
    train, validation = train_test_split(frame, plan.validation_plan())
    x_train, y_train = features_and_labels(train, feature_names)
    results, scores = {}, {}
    for name, pipeline in candidate_models(seed).items():
        scores[name] = pipeline.fit(x_train, y_train).predict_proba(validation[feature_names].to_numpy(float))[:, 1]
        results[name] = evaluate(validation, scores[name])
    best = max(results, key=lambda name: results[name]["average_precision"])
    train, test = train_test_split(frame, plan)
    pipeline = candidate_models(seed)[best].fit(*features_and_labels(train, feature_names))
    test_scores = pipeline.predict_proba(test[feature_names].to_numpy(dtype=float))[:, 1]
    return TrainingResult(best, pipeline, results, evaluate(test, test_scores),
                          decision_thresholds(validation, scores[best]), train, test, test_scores)


def decision_thresholds(test: pd.DataFrame, scores: np.ndarray) -> dict:
    """Score thresholds where the precision (on the validation period) first reaches 90 % (decline)
    and 40 % (review)."""
    precision, _, thresholds = precision_recall_curve(test["is_fraud"].astype(int), scores)

    def lowest_with_precision(target: float, fallback: float) -> float:
        reached = np.flatnonzero(precision[:-1] >= target)
        return round(float(thresholds[reached[0]]), 4) if len(reached) else fallback

    decline = lowest_with_precision(0.9, 0.9)
    return {"review": min(lowest_with_precision(0.4, 0.5), decline), "decline": decline}


def build_metadata(result: TrainingResult, feature_names: list[str], plan: SplitPlan,
                   dataset_description: dict) -> dict:
    digest = hashlib.sha256(joblib.hash(result.pipeline).encode()).hexdigest()[:8]
    histogram, _ = np.histogram(result.test_scores, bins=SCORE_BINS)
    train, test = result.train, result.test
    return {
        "version": f"{result.best}-{plan.train_start:%Y%m%d}-{digest}",
        "model": result.best,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "feature_names": feature_names,
        "split": {**plan.describe(), "validation": plan.validation_plan().describe()},
        "rows": {"train": int(len(train)), "train_frauds": int(train["is_fraud"].sum()),
                 "test": int(len(test)), "test_frauds": int(test["is_fraud"].sum())},
        "dataset": dataset_description,
        "metrics": result.test_metrics,
        "candidates": result.validation,
        "thresholds": result.thresholds,
        "test_score_distribution": {"bin_edges": SCORE_BINS.round(2).tolist(),
                                    "share": (histogram / max(len(result.test_scores), 1)).round(6).tolist()},
        "library_versions": {"scikit-learn": sklearn.__version__, "numpy": np.__version__,
                             "pandas": pd.__version__, "python": platform.python_version()},
    }
