"""Fraud detection metrics: ROC AUC, average precision, card precision@k (handbook, ch. 4)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score


def card_precision_at_k(test: pd.DataFrame, scores: np.ndarray, k: int = 100) -> float:
    """Per day, the share of truly compromised customers among the k highest-scored customers
    (a customer's score is their highest of the day; customers detected on earlier days are
    removed), averaged over the days."""
    frame = pd.DataFrame({"day": test["event_time"].dt.floor("D").to_numpy(),
                          "customer_id": test["customer_id"].to_numpy(),
                          "is_fraud": test["is_fraud"].astype(int).to_numpy(), "score": scores})
    detected: set = set()
    precisions = []
    for _, day in frame.groupby("day", sort=True):
        day = day[~day["customer_id"].isin(detected)]
        per_customer = day.groupby("customer_id")[["score", "is_fraud"]].max()
        top = per_customer.sort_values("score", ascending=False, kind="stable").head(k)
        hits = top.index[top["is_fraud"] == 1]
        precisions.append(len(hits) / k)
        detected |= set(hits)
    return float(np.mean(precisions)) if precisions else 0.0


def evaluate(test: pd.DataFrame, scores: np.ndarray) -> dict:
    labels = test["is_fraud"].astype(int).to_numpy()
    return {
        "roc_auc": round(float(roc_auc_score(labels, scores)), 4),
        "average_precision": round(float(average_precision_score(labels, scores)), 4),
        "card_precision_at_100": round(card_precision_at_k(test, scores, 100), 4),
    }
