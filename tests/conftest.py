"""Shared fixtures: one config, one set of real services, one SparkSession for the whole run."""
from __future__ import annotations

import re
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from core.config import AppConfig, load_config
from core.spark import build_spark_session

TEST_SPARK_SETTINGS = {
    "spark.master": "local[2]",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "2",
    # One JVM runs every test: run last, the training test's toPandas of a month's features (task
    # results over 128 MB each) ran out of the job's 2g heap (CI: OutOfMemoryError, twice); what
    # the earlier tests leave on that heap was not measured.
    "spark.driver.memory": "4g",
}


@pytest.fixture(scope="session")
def app_config() -> AppConfig:
    return load_config()


@pytest.fixture(scope="session")
def default_dataset():
    """(payments, profiles) of the generator's default simulation (seed 0, the committed model's
    training data): about 20 s to generate, so generated once for the generator and training tests."""
    from generator.simulator import SimulationParams, generate

    return generate(SimulationParams())


@pytest.fixture(scope="session")
def local_services(app_config: AppConfig) -> AppConfig:
    """Start (or reuse) the local Kafka broker and MariaDB, with topics and schema."""
    from dashboard.users import ensure_local_analyst
    from services.grants import migrate_and_grant
    from services.kafka_acls import allow_label_writer
    from services.kafka_broker import KafkaBroker
    from services.mariadb_server import MariaDbServer
    from services.topics import ensure_topics

    KafkaBroker.from_config(app_config).start()
    MariaDbServer.from_config(app_config).start()
    ensure_topics(app_config.kafka)
    allow_label_writer(app_config)
    migrate_and_grant(app_config)
    ensure_local_analyst(app_config)
    return app_config


@pytest.fixture(scope="session")
def spark(app_config: AppConfig):
    session = build_spark_session(app_config, "payscore-tests", TEST_SPARK_SETTINGS)
    session.sparkContext.setLogLevel("WARN")
    return session


@pytest.fixture
def unique_id(request) -> str:
    """A short name unique to this test run, usable in topic names and transaction ids."""
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:24]
    return f"{stem}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def isolated_config(local_services: AppConfig, unique_id: str, tmp_path: Path) -> AppConfig:
    """The config with this test's own payments and labels topics and checkpoint folder."""
    from services.topics import ensure_topics

    topics = replace(local_services.kafka.topics, payments=f"payments-{unique_id}",
                     labels=f"labels-{unique_id}", alerts=f"alerts-{unique_id}", dlq=f"dlq-{unique_id}")
    config = local_services.model_copy(update={
        "kafka": replace(local_services.kafka, topics=topics),
        "stream": replace(local_services.stream, checkpoint_location=tmp_path / "checkpoint"),
    })
    ensure_topics(config.kafka, [topics.payments, topics.labels, topics.alerts, topics.dlq])
    return config


@pytest.fixture
def mysql_connection(local_services: AppConfig):
    from sinks.mysql_connection import connect

    connection = connect(local_services.mysql, autocommit=True)
    yield connection
    connection.close()
