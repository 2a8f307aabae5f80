"""The local broker's KRaft cluster id: 16 random bytes the storage tool accepts as an argument."""
from __future__ import annotations

import base64

from services.kafka_broker import _kafka_cluster_id


def test_cluster_ids_never_start_with_a_dash_and_hold_16_bytes():
    ids = [_kafka_cluster_id() for _ in range(5_000)]  # about 78 would start with '-' unguarded
    assert not [cluster_id for cluster_id in ids if cluster_id.startswith("-")]
    assert all(len(base64.urlsafe_b64decode(cluster_id + "==")) == 16 for cluster_id in ids)
    assert len(set(ids)) == len(ids)
