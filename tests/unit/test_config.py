from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.config import DEFAULT_CONFIG_PATH, ConfigError, describe, load_config


def write_config(tmp_path: Path, **changes) -> Path:
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        raw[section][key] = value
    path = tmp_path / "payments.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_defaults_load_into_typed_values():
    config = load_config(environ={})
    assert config.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert config.kafka.topics.payments == "payments"
    assert config.mysql.port == 3306 and isinstance(config.mysql.port, int)
    assert config.stream.checkpoint_location.is_absolute()


def test_environment_overrides_hosts_ports_and_credentials():
    config = load_config(environ={
        "KAFKA_BOOTSTRAP_SERVERS": "kafka-a:9092,kafka-b:9093",
        "MYSQL_HOST": "db.internal", "MYSQL_PORT": "3307", "MYSQL_DATABASE": "fraud",
        "MYSQL_USER": "scorer", "MYSQL_PASSWORD": "s3cret!",
    })
    assert config.kafka.bootstrap_host_ports == [("kafka-a", 9092), ("kafka-b", 9093)]
    assert (config.mysql.host, config.mysql.port, config.mysql.database, config.mysql.user) == (
        "db.internal", 3307, "fraud", "scorer")
    assert config.mysql.secret().get_secret_value() == "s3cret!"
    assert "jdbc:mysql://db.internal:3307/fraud" in config.mysql.jdbc_url


@pytest.mark.parametrize("variable, value, key, allowed", [
    ("MYSQL_PORT", "70000", "mysql.port", "less than or equal to 65535"),
    ("MYSQL_PORT", "abc", "mysql.port", "valid integer"),
    ("KAFKA_BOOTSTRAP_SERVERS", "localhost", "kafka.bootstrap_servers", "host:port"),
    ("MYSQL_DATABASE", "pay-ments;", "mysql.database", "A-Za-z0-9_"),
])
def test_bad_environment_value_names_key_value_and_what_is_allowed(variable, value, key, allowed):
    with pytest.raises(ConfigError) as raised:
        load_config(environ={variable: value})
    message = str(raised.value)
    assert key in message and repr(value) in message and allowed in message


def test_bad_file_value_names_key_value_and_choices(tmp_path):
    path = write_config(tmp_path, mysql__flavor="postgres")
    with pytest.raises(ConfigError, match=r"mysql.flavor = 'postgres': Input should be 'mariadb' or 'mysql'"):
        load_config(path, environ={})


def test_missing_required_value_is_reported(tmp_path):
    path = write_config(tmp_path, stream__checkpoint_location="")
    with pytest.raises(ConfigError, match="stream.checkpoint_location = None: required"):
        load_config(path, environ={})


def test_password_never_appears_in_repr_or_logged_config():
    config = load_config(environ={"MYSQL_PASSWORD": "hunter2-very-secret"})
    assert "hunter2" not in repr(config) and "hunter2" not in str(config.mysql)
    assert "hunter2" not in str(describe(config))
    assert config.mysql.secret().get_secret_value() == "hunter2-very-secret"


def test_password_file_missing_gives_a_clear_error(tmp_path):
    path = write_config(tmp_path, mysql__password_file=str(tmp_path / "absent"))
    config = load_config(path, environ={})
    with pytest.raises(ConfigError, match="MYSQL_PASSWORD"):
        config.mysql.secret()


def test_a_checkpoint_on_a_hadoop_file_system_is_kept_as_its_uri(tmp_path):
    """The operators' state is checkpointed with the query, so any Hadoop-compatible path works."""
    for uri in ("s3a://bucket/payscore/checkpoints", "hdfs://namenode:8020/payscore/cp", "abfs://c@a.dfs.core.windows.net/cp"):
        path = write_config(tmp_path, stream__checkpoint_location=uri)
        assert load_config(path, environ={}).stream.checkpoint_location == uri
    path = write_config(tmp_path, stream__checkpoint_location="state/checkpoints/x")
    assert str(load_config(path, environ={}).stream.checkpoint_location).endswith("/state/checkpoints/x")


def test_a_key_the_file_should_not_have_is_refused_naming_it(tmp_path):
    path = write_config(tmp_path, stream__trigger_intervall="1 second")
    with pytest.raises(ConfigError, match="stream.trigger_intervall"):
        load_config(path, environ={})


def test_duplicate_rule_ids_are_refused(tmp_path):
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    raw["decisions"]["rules"].append(dict(raw["decisions"]["rules"][0]))
    path = tmp_path / "payments.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="decisions.rules.*LARGE_AMOUNT repeated"):
        load_config(path, environ={})


def test_kafka_and_mysql_security_come_from_the_environment_with_the_password_hidden(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    config = load_config(environ={"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SSL_CA_FILE": str(ca),
                                  "KAFKA_SASL_USERNAME": "payscore", "KAFKA_SASL_PASSWORD": 's3cr"t',
                                  "MYSQL_TLS_MODE": "verify_full", "MYSQL_TLS_CA_FILE": str(ca)})
    options = config.kafka.spark_options()
    assert options["kafka.security.protocol"] == "SASL_SSL"
    assert options["kafka.ssl.truststore.location"] == str(ca)
    assert options["kafka.sasl.jaas.config"].endswith('username="payscore" password="s3cr\\"t";')
    assert config.kafka.client_settings()["sasl.password"] == 's3cr"t'
    assert f"sslMode=verify-full&serverSslCert={ca}" in config.mysql.jdbc_url
    assert 's3cr"t' not in repr(config) and "s3cr" not in describe(config)


@pytest.mark.parametrize("environ, message", [
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "SASL_SSL needs sasl_username and a password"),
    ({"MYSQL_TLS_MODE": "verify_full"}, "needs ca_file"),
    ({"MYSQL_TLS_MODE": "tls"}, "disabled"),
])
def test_incomplete_security_settings_are_refused_at_start(environ, message):
    with pytest.raises(ConfigError, match=message):
        load_config(environ=environ)
