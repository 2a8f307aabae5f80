"""Population stability index and the escaping of raw rejected messages (dashboard)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dashboard.data import escaped_text
from dashboard.drift import FLOOR, population_stability_index, reading, shares


def test_identical_distributions_have_no_drift():
    expected = shares([10, 20, 30, 40])
    assert population_stability_index(expected, expected) == 0.0
    assert reading(0.0) == "stable"


def test_psi_is_the_sum_of_share_differences_times_log_ratio():
    expected, actual = np.array([0.5, 0.5]), np.array([0.8, 0.2])
    by_hand = (0.8 - 0.5) * math.log(0.8 / 0.5) + (0.2 - 0.5) * math.log(0.2 / 0.5)
    assert population_stability_index(expected, actual) == pytest.approx(by_hand)
    assert reading(by_hand) == "large shift"


def test_empty_bins_are_floored_so_the_index_stays_finite():
    psi = population_stability_index([1.0, 0.0], [0.0, 1.0])
    assert math.isfinite(psi) and psi == pytest.approx(2 * (1 - FLOOR) * math.log((1 - 0) / FLOOR), rel=1e-3)


def test_histograms_of_different_sizes_are_refused():
    with pytest.raises(ValueError, match="differ in bins"):
        population_stability_index([0.5, 0.5], [1.0, 0.0, 0.0])


def test_raw_bytes_are_shown_as_escaped_text():
    assert escaped_text(b'<script>alert(1)</script>') == "<script>alert(1)</script>"  # text, shown as text
    assert escaped_text(b"\xff\xfeA\n\x1b[31m") == "\\xff\\xfeA\\n\\x1b[31m"
    assert escaped_text(None) == ""
