"""Train the candidates on the time-based split, keep the best by average precision."""
from __future__ import annotations

import hashlib
import platform
from datetime import UTC, datetime

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.metrics import precision_recall_curve

from training.candidates import candidate_models
from training.metrics import evaluate
from training.split import SplitPlan, train_test_split

SCORE_BINS = np.linspace(0, 1, 21)


def fit_and_compare(frame: pd.DataFrame, feature_names: list[str], plan: SplitPlan, seed: int = 0):
    """Fit every candidate; return (results by name, best name, fitted best, test rows, its scores)."""
    train, test = train_test_split(frame, plan)
    x_train, y_train = train[feature_names].to_numpy(dtype=float), train["is_fraud"].astype(int).to_numpy()
    x_test = test[feature_names].to_numpy(dtype=float)
    results, fitted, scores = {}, {}, {}
    for name, pipeline in candidate_models(seed).items():
        pipeline.fit(x_train, y_train)
        scores[name] = pipeline.predict_proba(x_test)[:, 1]
        results[name] = evaluate(test, scores[name])
        fitted[name] = pipeline
    best = max(results, key=lambda name: results[name]["average_precision"])
    return results, best, fitted[best], train, test, scores[best]


def decision_thresholds(test: pd.DataFrame, scores: np.ndarray) -> dict:
    """Score thresholds where the test precision first reaches 90 % (decline) and 40 % (review)."""
    precision, _, thresholds = precision_recall_curve(test["is_fraud"].astype(int), scores)

    def lowest_with_precision(target: float, fallback: float) -> float:
        reached = np.flatnonzero(precision[:-1] >= target)
        return round(float(thresholds[reached[0]]), 4) if len(reached) else fallback

    decline = lowest_with_precision(0.9, 0.9)
    return {"review": min(lowest_with_precision(0.4, 0.5), decline), "decline": decline}


def build_metadata(model_name: str, pipeline, feature_names: list[str], plan: SplitPlan,
                   results: dict, train: pd.DataFrame, test: pd.DataFrame, scores: np.ndarray,
                   dataset_description: dict) -> dict:
    digest = hashlib.sha256(joblib.hash(pipeline).encode()).hexdigest()[:8]
    histogram, _ = np.histogram(scores, bins=SCORE_BINS)
    return {
        "version": f"{model_name}-{plan.train_start:%Y%m%d}-{digest}",
        "model": model_name,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "feature_names": feature_names,
        "split": plan.describe(),
        "rows": {"train": int(len(train)), "train_frauds": int(train["is_fraud"].sum()),
                 "test": int(len(test)), "test_frauds": int(test["is_fraud"].sum())},
        "dataset": dataset_description,
        "metrics": results[model_name],
        "candidates": results,
        "thresholds": decision_thresholds(test, scores),
        "test_score_distribution": {"bin_edges": SCORE_BINS.round(2).tolist(),
                                    "share": (histogram / max(len(scores), 1)).round(6).tolist()},
        "library_versions": {"scikit-learn": sklearn.__version__, "numpy": np.__version__,
                             "pandas": pd.__version__, "python": platform.python_version()},
    }
