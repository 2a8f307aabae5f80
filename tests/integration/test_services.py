"""The local services: really answering, reusable, least-privileged, clear when ports clash."""
from __future__ import annotations

import os
import socket
from dataclasses import replace

import pymysql
import pytest
from confluent_kafka.admin import AdminClient

from services.kafka_broker import KafkaBroker
from services.mariadb_server import MariaDbServer
from services.migrations import apply_migrations
from services.processes import ServiceError, wait_until
from services.topics import ensure_topics, project_topics

pytestmark = pytest.mark.integration


@pytest.fixture
def taken_port():
    """A port some other process holds for the duration of the test."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    yield holder.getsockname()[1]
    holder.close()


def test_second_start_reuses_the_running_services(local_services):
    broker = KafkaBroker.from_config(local_services)
    database = MariaDbServer.from_config(local_services)
    pids = (broker.pid_file.read_text(), database.pid_file.read_text())
    broker.start()
    database.start()
    assert (broker.pid_file.read_text(), database.pid_file.read_text()) == pids


def test_project_topics_exist_with_the_configured_partitions(local_services):
    assert ensure_topics(local_services.kafka) == []
    metadata = AdminClient({"bootstrap.servers": local_services.kafka.bootstrap_servers}).list_topics(timeout=10)
    for name in project_topics(local_services.kafka):
        assert len(metadata.topics[name].partitions) == local_services.kafka.partitions


def test_migrations_are_applied_once(local_services, mysql_connection):
    assert apply_migrations(local_services.mysql) == []
    with mysql_connection.cursor() as cursor:
        cursor.execute("SELECT name FROM schema_migrations ORDER BY version")
        assert cursor.fetchall()[0] == ("001_stream_tables.sql",)


def test_application_user_can_write_rows_but_not_change_the_schema(mysql_connection):
    with mysql_connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM stream_batches")
        with pytest.raises(pymysql.err.OperationalError) as denied:
            cursor.execute("CREATE TABLE should_not_exist (id INT)")
        assert denied.value.args[0] == 1142  # command denied
        with pytest.raises(pymysql.err.OperationalError):
            cursor.execute("DROP TABLE scored_transactions")


def test_kafka_start_on_a_taken_port_names_the_port(local_services, tmp_path, taken_port):
    broker = replace(KafkaBroker.from_config(local_services), port=taken_port, home=tmp_path)
    with pytest.raises(ServiceError, match=f"port {taken_port} .* already in use"):
        broker.start()


def test_mariadb_start_on_a_taken_port_names_the_port(local_services, tmp_path, taken_port):
    database = replace(MariaDbServer.from_config(local_services), port=taken_port, home=tmp_path)
    with pytest.raises(ServiceError, match=f"port {taken_port} .*MYSQL_PORT"):
        database.start()


def test_a_service_that_never_answers_fails_with_its_log_tail(tmp_path):
    log_file, pid_file = tmp_path / "server.log", tmp_path / "server.pid"
    log_file.write_text("starting\nFATAL: disk full\n")
    pid_file.write_text(str(os.getpid()))
    with pytest.raises(ServiceError, match=r"did not answer within 1 s(.|\n)*FATAL: disk full"):
        wait_until(lambda: False, 1, "test service", log_file, pid_file)


def test_broker_health_check_answers_however_long_its_topic_is(local_services):
    from services.kafka_broker import HEALTH_TOPIC
    from tests.kafka_helpers import produce

    produce(local_services.kafka.bootstrap_servers, HEALTH_TOPIC, [(None, b"old")] * 200)
    assert KafkaBroker.from_config(local_services)._round_trip()
