"""The send plan: payments, labels and invalid messages merged in emit (event-time) order."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from core.config import PROJECT_ROOT
from producer.encoding import keys, label_values, payment_values

INVALID_SAMPLES_DIR = PROJECT_ROOT / "contract" / "samples" / "invalid"
PAYMENT, LABEL, INVALID = 0, 1, 2


@dataclass(frozen=True)
class SendPlan:
    """Messages in send order, with the event time that paces each one (ns since epoch)."""

    emit_ns: np.ndarray
    kinds: np.ndarray
    keys: list[bytes | None]
    values: list[bytes]

    def __len__(self) -> int:
        return len(self.values)

    def count(self, kind: int) -> int:
        return int((self.kinds == kind).sum())


def invalid_samples(folder: Path = INVALID_SAMPLES_DIR) -> dict[str, bytes]:
    """One raw message per kind of invalid message (contract/samples/invalid)."""
    return {path.stem: path.read_bytes() for path in sorted(folder.glob("*.bin"))}


def build_plan(payments: pd.DataFrame, labels: str = "none", label_delay: timedelta = timedelta(days=7),
               invalid_fraction: float = 0.0, seed: int = 0) -> SendPlan:
    """Payments in event-time order; labels at event_time + delay; invalid kinds mixed in evenly."""
    payments = payments.sort_values("event_time", kind="stable").reset_index(drop=True)
    event_ns = payments["event_time"].astype("int64").to_numpy()
    parts = [(event_ns, np.full(len(payments), PAYMENT, np.int8),
              keys(payments["customer_id"]), payment_values(payments))]
    if labels != "none":
        labelled = payments if labels == "all" else payments[payments["is_fraud"].astype(bool)]
        labeled_at = labelled["event_time"] + label_delay
        parts.append((labeled_at.astype("int64").to_numpy(), np.full(len(labelled), LABEL, np.int8),
                      keys(labelled["transaction_id"]), label_values(labelled, labeled_at)))
    if invalid_fraction > 0 and len(payments):
        parts.append(_invalid_part(event_ns, invalid_fraction, seed))
    emit_ns = np.concatenate([p[0] for p in parts])
    order = np.argsort(emit_ns, kind="stable")
    all_keys = [k for p in parts for k in p[2]]
    all_values = [v for p in parts for v in p[3]]
    return SendPlan(emit_ns[order], np.concatenate([p[1] for p in parts])[order],
                    [all_keys[i] for i in order], [all_values[i] for i in order])


def _invalid_part(event_ns: np.ndarray, fraction: float, seed: int):
    samples = list(invalid_samples().values())
    count = max(len(samples), int(round(len(event_ns) * fraction)))
    rng = np.random.default_rng(seed)
    at = np.sort(rng.choice(event_ns, size=count, replace=True))
    values = [samples[i % len(samples)] for i in range(count)]
    return at, np.full(count, INVALID, np.int8), [b"invalid"] * count, values
