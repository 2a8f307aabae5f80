"""The job, unchanged, on a Spark standalone cluster (master + 2 workers from pyspark's own
distribution): both executors read Kafka partitions, each Python worker loads the model from
the copy Spark shipped, and every decision equals the local-mode run on the same payments.
Alerts are not explained here (tests/model_helpers.py says why); `make cluster-run` runs the
product's configuration, explanations included."""
from __future__ import annotations

import pytest

from bench.cluster import run_comparison, shared_and_correct
from services.spark_cluster import SparkCluster
from tests.job_runner import write_job_config
from tests.model_helpers import WITHOUT_EXPLANATIONS

pytestmark = pytest.mark.integration


def test_same_job_on_a_standalone_cluster_matches_local_mode(local_services, tmp_path):
    config_path = write_job_config(local_services, tmp_path, model=WITHOUT_EXPLANATIONS)
    cluster = SparkCluster.from_config(local_services)
    try:
        result = run_comparison(local_services, cluster, 20_000, ["--config", str(config_path)])
    finally:
        cluster.stop()
    assert result["comparison"]["cluster_rows"] == 20_000
    assert shared_and_correct(result), result
