"""The dashboard's label message: the label contract, keyed by transaction id, with who and when."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from dashboard.data import AlertToLabel
from dashboard.labels import label_message

ALERT = AlertToLabel("tx-7", "C1", "T1", datetime(2018, 4, 1, 0, 7, 56, 250000))  # naive UTC, as MySQL gives


def test_a_label_carries_the_payment_the_verdict_and_who_gave_it_when():
    key, value = label_message(ALERT, False, "analyst", datetime(2026, 12, 2, 19, 0, tzinfo=UTC))
    assert key == b"tx-7"
    assert json.loads(value) == {"transaction_id": "tx-7", "customer_id": "C1", "terminal_id": "T1",
                                 "event_time": "2018-04-01T00:07:56.250000Z", "is_fraud": False,
                                 "labeled_at": "2026-12-02T19:00:00.000000Z", "labeled_by": "analyst"}


def test_a_label_the_contract_refuses_is_not_built():
    with pytest.raises(ValueError, match="breaks the label contract"):
        label_message(ALERT, True, "two words", datetime(2026, 12, 2, tzinfo=UTC))
