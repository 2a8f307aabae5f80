"""Turn a payments DataFrame into contract-v1 Kafka messages, vectorised."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

PAYMENT_COLUMNS = ("transaction_id", "customer_id", "terminal_id", "amount", "event_time")
_NEEDS_ESCAPING = r'["\\\x00-\x1f]'


class DatasetError(ValueError):
    """The input dataset does not have what the contract needs."""


def read_dataset(path) -> pd.DataFrame:
    """Parquet, CSV or JSON lines with the contract's fields; event_time as UTC timestamps."""
    suffix = str(path).lower()
    if suffix.endswith(".parquet"):
        frame = pd.read_parquet(path)
    elif suffix.endswith(".csv"):
        frame = pd.read_csv(path, dtype={"transaction_id": str, "customer_id": str, "terminal_id": str})
    elif suffix.endswith((".jsonl", ".json", ".ndjson")):
        frame = pd.read_json(path, lines=True, dtype={"transaction_id": str, "customer_id": str,
                                                      "terminal_id": str})
    else:
        raise DatasetError(f"{path}: expected .parquet, .csv or .jsonl")
    missing = [c for c in PAYMENT_COLUMNS if c not in frame.columns]
    if missing:
        raise DatasetError(f"{path}: missing columns {', '.join(missing)}")
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True, format="ISO8601")
    return frame


def json_string(values: pd.Series) -> pd.Series:
    """Each value as a JSON string literal; json.dumps only where escaping is needed."""
    text = values.astype(str)
    escaped = text.str.contains(_NEEDS_ESCAPING, regex=True)
    quoted = '"' + text + '"'
    if escaped.any():
        quoted[escaped] = text[escaped].map(json.dumps)
    return quoted


def rfc3339(times: pd.Series) -> np.ndarray:
    """UTC timestamps as RFC 3339 with Z; milliseconds only when some are fractional."""
    utc = times.dt.tz_convert("UTC") if times.dt.tz is not None else times.dt.tz_localize("UTC")
    instants = utc.dt.tz_convert(None).to_numpy()
    unit = "ms" if (utc.dt.microsecond != 0).any() else "s"
    return np.char.add(np.datetime_as_string(instants.astype(f"datetime64[{unit}]"), unit=unit), "Z")


def payment_values(frame: pd.DataFrame) -> list[bytes]:
    """The JSON message of each payment, in frame order."""
    amounts = np.char.mod("%.2f", frame["amount"].to_numpy(dtype=float))
    currency = (frame["currency"].fillna("EUR") if "currency" in frame.columns
                else pd.Series("EUR", index=frame.index))
    columns = zip(json_string(frame["transaction_id"]), json_string(frame["customer_id"]),
                  json_string(frame["terminal_id"]), amounts, json_string(currency),
                  rfc3339(frame["event_time"]), strict=True)
    return [f'{{"transaction_id":{t},"customer_id":{c},"terminal_id":{m},"amount":{a},'
            f'"currency":{u},"event_time":"{e}"}}'.encode()
            for t, c, m, a, u, e in columns]


def label_values(frame: pd.DataFrame, labeled_at: pd.Series) -> list[bytes]:
    """The fraud label message of each row (is_fraud from the dataset)."""
    fraud = np.where(frame["is_fraud"].to_numpy(dtype=bool), "true", "false")
    columns = zip(json_string(frame["transaction_id"]), json_string(frame["customer_id"]),
                  json_string(frame["terminal_id"]), rfc3339(frame["event_time"]), fraud,
                  rfc3339(labeled_at), strict=True)
    return [f'{{"transaction_id":{t},"customer_id":{c},"terminal_id":{m},"event_time":"{e}",'
            f'"is_fraud":{f},"labeled_at":"{at}"}}'.encode()
            for t, c, m, e, f, at in columns]


def keys(values: pd.Series) -> list[bytes]:
    return [str(value).encode() for value in values]
