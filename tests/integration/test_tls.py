"""TLS and SASL against the local services (certificates made by services/tls.py when they
start): MariaDB with an account that requires TLS, verified against the local CA; Kafka's SSL
and SASL_SSL listeners; the job end to end over both, with the SASL password in no plan or log."""
from __future__ import annotations

import logging
import secrets
from dataclasses import replace

import pymysql
import pytest
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr

from core.config import KafkaSecurityConfig, MySqlTlsConfig
from pipeline.scoring_query import start_scoring_query
from services.grants import grant_least_privilege
from services.kafka_broker import KafkaBroker
from services.mariadb_server import MariaDbServer
from services.tls import LocalCertificates
from sinks.mysql_connection import connect
from tests.kafka_helpers import payment

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def certificates(local_services) -> LocalCertificates:
    return LocalCertificates(local_services.local_services.state_dir / "tls")


@pytest.fixture(scope="module")
def tls_account(local_services, certificates):
    """A MariaDB account that may only connect over TLS, with the job's privileges."""
    user, password = f"tls_{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    admin = MariaDbServer.from_config(local_services).root_connection()
    with admin.cursor() as cursor:
        for host in ("127.0.0.1", "localhost"):
            cursor.execute("CREATE USER %s@%s IDENTIFIED BY %s REQUIRE SSL", (user, host, password))
    mysql = replace(local_services.mysql, user=user, password=SecretStr(password),
                    tls=MySqlTlsConfig(mode="verify_full", ca_file=certificates.ca_file))
    grant_least_privilege(admin, mysql)
    yield mysql
    with admin.cursor() as cursor:
        for host in ("127.0.0.1", "localhost"):
            cursor.execute("DROP USER IF EXISTS %s@%s", (user, host))
    admin.close()


def sasl_ssl(local_services, certificates, password: str | None = None) -> tuple[str, KafkaSecurityConfig]:
    broker = KafkaBroker.from_config(local_services)
    security = KafkaSecurityConfig(protocol="SASL_SSL", ca_file=certificates.ca_file, sasl_mechanism="PLAIN",
                                   sasl_username=broker.sasl_user,
                                   sasl_password=SecretStr(password or broker.sasl_password()))
    return f"{broker.host}:{broker.sasl_ssl_port}", security


def test_mysql_account_requires_tls_and_the_server_is_verified(tls_account, tmp_path):
    with pytest.raises(pymysql.err.OperationalError) as refused:  # without TLS
        connect(replace(tls_account, tls=MySqlTlsConfig()))
    assert refused.value.args[0] == 1045
    with connect(tls_account) as connection, connection.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
        assert cursor.fetchone()[1].startswith("TLS")
    other_ca = LocalCertificates(tmp_path / "other").ensure().ca_file
    with pytest.raises(pymysql.err.OperationalError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        connect(replace(tls_account, tls=MySqlTlsConfig(mode="verify_full", ca_file=other_ca)))


def test_kafka_clients_connect_over_ssl_and_sasl_ssl_and_refuse_a_wrong_password(local_services, certificates):
    broker = KafkaBroker.from_config(local_services)
    ssl = KafkaSecurityConfig(protocol="SSL", ca_file=certificates.ca_file)
    admin = AdminClient({"bootstrap.servers": f"{broker.host}:{broker.ssl_port}", **ssl.librdkafka_settings()})
    assert admin.list_topics(timeout=20).topics
    bootstrap, security = sasl_ssl(local_services, certificates)
    admin = AdminClient({"bootstrap.servers": bootstrap, **security.librdkafka_settings()})
    assert admin.list_topics(timeout=20).topics
    bootstrap, wrong = sasl_ssl(local_services, certificates, password="not-the-password")
    errors = []
    refused = AdminClient({"bootstrap.servers": bootstrap, **wrong.librdkafka_settings(), "log_level": 0,
                           "error_cb": errors.append})
    with pytest.raises(KafkaException):
        refused.list_topics(timeout=5)
    refused.poll(1)
    assert any("Authentication failed" in str(error) for error in errors), errors


def test_the_job_end_to_end_over_sasl_ssl_and_mysql_tls_shows_no_secret(
        spark, isolated_config, tls_account, certificates, unique_id, mysql_connection, caplog):
    bootstrap, security = sasl_ssl(isolated_config, certificates)
    kafka = replace(isolated_config.kafka, bootstrap_servers=bootstrap, security=security)
    config = isolated_config.model_copy(update={"kafka": kafka, "mysql": tls_account})
    producer = Producer({"bootstrap.servers": bootstrap, **security.librdkafka_settings()})
    sent = [payment(f"{unique_id}-{i}", customer_id=f"C{i % 3}", amount=6000 if i == 0 else 20 + i,
                    event_time=f"2018-04-01T00:{i:02d}:00Z") for i in range(10)]
    for message in sent:
        producer.produce(kafka.topics.payments, key=message["customer_id"], value=str(message).replace("'", '"'))
    assert producer.flush(30) == 0

    with caplog.at_level(logging.INFO):
        query = start_scoring_query(spark, config, {"availableNow": True})
        query.awaitTermination(600)
    assert query.exception() is None
    with mysql_connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM scored_transactions WHERE stream_id = %s", (str(query.id),))
        assert cursor.fetchone()[0] == len(sent)

    password = security.sasl_password.get_secret_value()
    plan = query._jsq.toString() + str(query.lastProgress) + spark._jsparkSession.sessionState().conf().toString()
    assert password not in plan
    assert password not in caplog.text and tls_account.secret().get_secret_value() not in caplog.text
