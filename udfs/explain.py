"""Explained alerts: each REVIEW/DECLINED payment's three largest feature contributions to its
score, from tree SHAP values (the `shap` library's TreeExplainer) for tree ensembles, or exact
linear contributions for a linear model. A pandas UDF that receives the model's inputs of the
alerts only (NULL for every other row), so approved payments cost one NULL each."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.functions import pandas_udf

from udfs.model_artifact import ModelArtifact
from udfs.scoring import loaded_model, model_inputs

TOP_FEATURES = 3
_EXPLAINERS: dict[str, object] = {}


def split_pipeline(pipeline) -> tuple[object | None, object]:
    """(the steps before the estimator as one transformer or None, the estimator)."""
    if not hasattr(pipeline, "steps"):
        return None, pipeline
    return (pipeline[:-1] if len(pipeline.steps) > 1 else None), pipeline.steps[-1][1]


def contributions(pipeline, rows: np.ndarray, explainer_cache_key: str) -> np.ndarray:
    """Each row's per-feature contribution to the fraud class (rows x features)."""
    transform, estimator = split_pipeline(pipeline)
    inputs = transform.transform(rows) if transform is not None else rows
    if hasattr(estimator, "coef_"):  # linear: exact SHAP with the (standardised) mean as background
        return inputs * np.asarray(estimator.coef_).reshape(1, -1)
    if explainer_cache_key not in _EXPLAINERS:
        import shap
        _EXPLAINERS[explainer_cache_key] = shap.TreeExplainer(estimator)
    values = np.asarray(_EXPLAINERS[explainer_cache_key].shap_values(inputs, check_additivity=False))
    if values.ndim == 3:  # (rows, features, classes): the fraud class
        values = values[..., 1]
    return values


def top_contributions(values: np.ndarray, names: list[str], top: int = TOP_FEATURES) -> list[str]:
    """Per row, 'name:+0.123,...' for its `top` largest contributions by absolute value."""
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :top]
    return [",".join(f"{names[j]}:{values[i, j]:+.3f}" for j in row) for i, row in enumerate(order)]


def explanation_column(model: ModelArtifact, is_alert: Column) -> Column:
    """The top feature contributions of the rows is_alert selects (NULL for the others)."""
    path, names = str(model.folder), tuple(model.feature_names)

    @pandas_udf(T.StringType())
    def explain(batches: Iterator[pd.DataFrame]) -> Iterator[pd.Series]:
        artifact = loaded_model(path, names)
        for inputs in batches:
            out = pd.Series([None] * len(inputs), dtype=object)
            alerts = inputs.notna().all(axis=1).to_numpy()
            if alerts.any():
                rows = inputs[alerts].to_numpy(dtype=np.float64)
                out[alerts] = top_contributions(contributions(artifact.pipeline, rows, path), list(names))
            yield out

    inputs = model_inputs(model.feature_names)
    alert_inputs = F.struct(*[F.when(is_alert, inputs[name]).alias(name) for name in model.feature_names])
    return F.when(is_alert, explain.asNondeterministic()(alert_inputs))
