"""One definition, two executions: features computed by the stream equal the training features.

A generated dataset (35 days, 300 customers, 300 terminals, fraud labels 7 days later) goes
through the real broker and the production streaming query in six chunks; the query is
restarted from its checkpoint for each chunk, so the operators' state is restored from Spark's
state store. Every feature of every payment, read back from MariaDB, must equal the value the
batch computation used for training gives.
"""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from features.batch import compute_features, labels_after_delay
from features.definitions import stored_feature_names
from generator.simulator import SimulationParams, generate
from pipeline.scoring_query import start_scoring_query
from producer.plan import INVALID, LABEL, PAYMENT, SendPlan, build_plan
from producer.sender import send_plan
from tests.model_helpers import without_explanations

pytestmark = pytest.mark.integration

CHUNKS = 6


def chunks_of(plan: SendPlan, count: int) -> list[SendPlan]:
    bounds = np.linspace(0, len(plan), count + 1).astype(int)
    return [SendPlan(plan.emit_ns[a:b], plan.kinds[a:b], plan.keys[a:b], plan.values[a:b])
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def test_streamed_features_equal_batch_features(spark, isolated_config, mysql_connection, unique_id):
    params = SimulationParams(n_customers=300, n_terminals=300, n_days=35, radius=10, seed=21)
    dataset, _ = generate(params)
    dataset["transaction_id"] = unique_id + "-" + dataset["transaction_id"]
    delay = timedelta(days=isolated_config.features.label_delay_days)
    plan = build_plan(dataset, labels="fraud", label_delay=delay)
    topics = {PAYMENT: isolated_config.kafka.topics.payments, INVALID: isolated_config.kafka.topics.payments,
              LABEL: isolated_config.kafka.topics.labels}

    stream_ids, config = set(), without_explanations(isolated_config)  # the features are the subject
    for chunk in chunks_of(plan, CHUNKS):
        assert send_plan(chunk, isolated_config.kafka.bootstrap_servers, topics).failed == 0
        query = start_scoring_query(spark, config, {"availableNow": True})
        query.awaitTermination(600)
        assert query.exception() is None
        stream_ids.add(str(query.id))
    assert len(stream_ids) == 1

    names = stored_feature_names(isolated_config.features)
    with mysql_connection.cursor() as cursor:
        cursor.execute(f"SELECT transaction_id, {', '.join(names)} FROM scored_transactions "
                       "WHERE stream_id = %s", (stream_ids.pop(),))
        streamed = pd.DataFrame(cursor.fetchall(), columns=["transaction_id", *names]).set_index("transaction_id")
    expected = (compute_features(spark, dataset, labels_after_delay(dataset, delay), isolated_config.features)
                .set_index(dataset["transaction_id"]))

    assert len(streamed) == len(dataset) > 15_000
    assert int(dataset["is_fraud"].sum()) > 50
    streamed = streamed.loc[expected.index]
    for name in names:
        actual = streamed[name].astype(float).to_numpy()
        wanted = expected[name].astype(float).to_numpy()
        mismatched = ~np.isclose(actual, wanted, rtol=1e-12, atol=1e-9)
        assert not mismatched.any(), (f"{name}: {mismatched.sum()} payments differ, "
                                      f"e.g. {expected.index[mismatched][:3]}")
    assert expected["term_risk_7d"].gt(0).sum() > 100  # the labels really fed the terminal risk
