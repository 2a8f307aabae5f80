"""Features of a whole dataset (training): the streaming engine applied once, in event-time order."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from features.definitions import FeatureConfig
from features.engine import FeatureState, apply_batch


def event_micros(times: pd.Series) -> np.ndarray:
    """UTC timestamps (tz-aware or naive UTC) as int64 microseconds since the epoch."""
    utc = times.dt.tz_convert("UTC").dt.tz_localize(None) if times.dt.tz is not None else times
    return utc.to_numpy(dtype="datetime64[us]").astype(np.int64)


def payments_input(dataset: pd.DataFrame) -> pd.DataFrame:
    """The engine's payment columns from a dataset in the contract's fields."""
    return pd.DataFrame({
        "transaction_id": dataset["transaction_id"].to_numpy(dtype=object),
        "customer_id": dataset["customer_id"].to_numpy(dtype=object),
        "terminal_id": dataset["terminal_id"].to_numpy(dtype=object),
        "amount_cents": np.rint(dataset["amount"].to_numpy(dtype=float) * 100).astype(np.int64),
        "event_us": event_micros(dataset["event_time"]),
    }, index=dataset.index)


def labels_after_delay(dataset: pd.DataFrame, delay: timedelta) -> pd.DataFrame:
    """The labels the producer sends: each fraud becomes known `delay` after its event time."""
    fraud = dataset[dataset["is_fraud"].astype(bool)]
    event_us = event_micros(fraud["event_time"])
    return pd.DataFrame({
        "transaction_id": fraud["transaction_id"].to_numpy(dtype=object),
        "terminal_id": fraud["terminal_id"].to_numpy(dtype=object),
        "event_us": event_us,
        "is_fraud": True,
        "labeled_at_us": event_us + int(delay / timedelta(microseconds=1)),
    })


def compute_features(dataset: pd.DataFrame, labels: pd.DataFrame, config: FeatureConfig) -> pd.DataFrame:
    """Every feature of every payment of the dataset, as the stream computes them."""
    ordered = dataset.sort_values("event_time", kind="stable")
    features, _ = apply_batch(FeatureState(), payments_input(ordered), labels, config, version=0)
    return features.reindex(dataset.index)
