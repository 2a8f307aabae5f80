"""The models compared at each training run; the best by average precision on the validation
period is kept."""
from __future__ import annotations

from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


def candidate_models(seed: int = 0) -> dict[str, Pipeline]:
    return {
        "logistic_regression": Pipeline([("scale", StandardScaler()),
                                         ("model", LogisticRegression(C=0.1, max_iter=1000))]),
        "random_forest": Pipeline([("scale", StandardScaler()),
                                   ("model", RandomForestClassifier(n_estimators=100, max_depth=12,
                                                                    min_samples_leaf=2, n_jobs=-1,
                                                                    random_state=seed))]),
        # Deeper trees on half the features per split: better average precision on the validation
        # period, scoring about 150k rows/s on one core (make bench-scoring).
        "random_forest_deep": Pipeline([("scale", StandardScaler()),
                                        ("model", RandomForestClassifier(n_estimators=100, max_depth=20,
                                                                         min_samples_leaf=2, max_features=0.5,
                                                                         n_jobs=-1, random_state=seed))]),
        "gradient_boosting": Pipeline([("scale", StandardScaler()),
                                       ("model", HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05,
                                                                                max_leaf_nodes=15,
                                                                                random_state=seed))]),
    }
