"""The send plan: event-time order, labels after the delay, every invalid kind mixed in."""
from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import pytest

from producer.__main__ import compression
from producer.encoding import payment_values, read_dataset
from producer.plan import INVALID, LABEL, PAYMENT, build_plan, invalid_samples
from producer.sender import CHUNK, Pacing


def dataset() -> pd.DataFrame:
    return pd.DataFrame({
        "transaction_id": ["t3", "t1", "t2", 't"4'],
        "customer_id": ["C1", "C2", "C1", "C3"],
        "terminal_id": ["T1", "T1", "T2", "T3"],
        "amount": [10.0, 0.07, 1234.5, 5.0],
        "event_time": pd.to_datetime(["2018-04-03T00:00:00Z", "2018-04-01T00:00:00Z",
                                      "2018-04-02T00:00:00Z", "2018-04-20T00:00:00Z"], utc=True),
        "is_fraud": [True, False, True, False],
    })


def test_payments_are_sent_in_event_time_order_with_customer_keys():
    plan = build_plan(dataset())
    sent = [json.loads(v) for v in plan.values]
    assert [m["transaction_id"] for m in sent] == ["t1", "t2", "t3", 't"4']
    assert plan.keys[:3] == [b"C2", b"C1", b"C1"]
    assert sent[1] == {"transaction_id": "t2", "customer_id": "C1", "terminal_id": "T2", "amount": 1234.5,
                       "currency": "EUR", "event_time": "2018-04-02T00:00:00Z"}


def test_fraud_labels_follow_their_payment_after_the_label_delay():
    plan = build_plan(dataset(), labels="fraud", label_delay=timedelta(days=7))
    order = [(kind, json.loads(value)["transaction_id"]) for kind, value in zip(plan.kinds, plan.values, strict=True)]
    assert order == [(PAYMENT, "t1"), (PAYMENT, "t2"), (PAYMENT, "t3"), (LABEL, "t2"), (LABEL, "t3"),
                     (PAYMENT, 't"4')]
    label = json.loads(plan.values[3])
    assert label["is_fraud"] is True and label["labeled_at"] == "2018-04-09T00:00:00Z"
    assert plan.keys[3] == b"t2"


def test_all_labels_and_invalid_mix():
    plan = build_plan(dataset(), labels="all", invalid_fraction=0.5)
    assert plan.count(PAYMENT) == 4 and plan.count(LABEL) == 4
    assert plan.count(INVALID) == len(invalid_samples())  # at least one of each kind
    invalid = {v for k, v in zip(plan.kinds, plan.values, strict=True) if k == INVALID}
    assert invalid == set(invalid_samples().values())


def test_amounts_keep_cents_exactly():
    assert b'"amount":0.07' in payment_values(dataset())[1]


@pytest.mark.parametrize("text, speedup", [("7d:10m", 7 * 86_400 / 600), ("1h:1h", 1.0), ("30s:1s", 30.0)])
def test_time_compression_is_event_seconds_per_wall_second(text, speedup):
    assert compression(text) == pytest.approx(speedup)


@pytest.mark.parametrize("suffix", ["parquet", "csv", "jsonl"])
def test_datasets_are_read_in_each_format(tmp_path, suffix):
    frame = dataset()
    path = tmp_path / f"d.{suffix}"
    if suffix == "parquet":
        frame.to_parquet(path)
    elif suffix == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.assign(event_time=frame["event_time"].astype(str)).to_json(path, orient="records", lines=True)
    loaded = read_dataset(path)
    assert list(loaded["transaction_id"]) == list(frame["transaction_id"])
    assert (loaded["event_time"] == frame["event_time"]).all()


def test_a_target_rate_is_paced_every_10_ms_of_messages():
    """A steady load at the latency benchmark's scale: 5,000 msg/s goes out 50 at a time."""
    assert Pacing(rate=5_000).chunk() == 50
    assert Pacing(rate=30).chunk() == 1
    assert Pacing(rate=10_000_000).chunk() == CHUNK
    assert Pacing().chunk() == Pacing(speedup=60).chunk() == CHUNK
