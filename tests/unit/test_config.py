from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.config import DEFAULT_CONFIG_PATH, ConfigError, Secret, describe, load_config


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
    assert config.mysql.password().reveal() == "s3cret!"
    assert "jdbc:mysql://db.internal:3307/fraud" in config.mysql.jdbc_url


@pytest.mark.parametrize("variable, value, key, allowed", [
    ("MYSQL_PORT", "70000", "mysql.port", "integer in 1..65535"),
    ("MYSQL_PORT", "abc", "mysql.port", "integer in 1..65535"),
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
    with pytest.raises(ConfigError, match=r"mysql.flavor = 'postgres': must be one of mariadb, mysql"):
        load_config(path, environ={})


def test_missing_required_value_is_reported(tmp_path):
    path = write_config(tmp_path, stream__checkpoint_location="")
    with pytest.raises(ConfigError, match="stream.checkpoint_location = None: required"):
        load_config(path, environ={})


def test_password_never_appears_in_repr_or_logged_config():
    config = load_config(environ={"MYSQL_PASSWORD": "hunter2-very-secret"})
    assert "hunter2" not in repr(config)
    assert "hunter2" not in str(describe(config))
    assert repr(Secret("x")) == "Secret('***')"


def test_password_file_missing_gives_a_clear_error(tmp_path):
    path = write_config(tmp_path, mysql__password_file=str(tmp_path / "absent"))
    config = load_config(path, environ={})
    with pytest.raises(ConfigError, match="MYSQL_PASSWORD"):
        config.mysql.password()
