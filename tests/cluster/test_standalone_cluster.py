"""The job, unchanged, on a Spark standalone cluster (master + 2 workers from pyspark's own
distribution): both executors read Kafka partitions, each Python worker loads the model from
the copy Spark shipped, and every decision equals the local-mode run on the same payments."""
from __future__ import annotations

import pytest

from bench.cluster import run_comparison, shared_and_correct
from services.spark_cluster import SparkCluster

pytestmark = pytest.mark.integration


def test_same_job_on_a_standalone_cluster_matches_local_mode(local_services):
    cluster = SparkCluster.from_config(local_services)
    try:
        result = run_comparison(local_services, cluster, 20_000)
    finally:
        cluster.stop()
    assert result["comparison"]["cluster_rows"] == 20_000
    assert shared_and_correct(result), result
