"""Population stability index between the live score distribution and the training one."""
from __future__ import annotations

import numpy as np

FLOOR = 1e-4  # an empty bin counts as this share, so the index stays finite

STABLE, MODERATE = 0.1, 0.25  # the usual reading: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 large


def shares(counts) -> np.ndarray:
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    return counts / total if total else np.zeros_like(counts)


def population_stability_index(expected_shares, actual_shares) -> float:
    """PSI = sum over bins of (actual - expected) * ln(actual / expected), shares floored."""
    expected = np.maximum(np.asarray(expected_shares, dtype=float), FLOOR)
    actual = np.maximum(np.asarray(actual_shares, dtype=float), FLOOR)
    if expected.shape != actual.shape:
        raise ValueError(f"histograms differ in bins: {expected.shape} vs {actual.shape}")
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def reading(psi: float) -> str:
    if psi < STABLE:
        return "stable"
    return "moderate shift" if psi < MODERATE else "large shift"
