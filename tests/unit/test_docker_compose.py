"""docker-compose.yml can't run here (no engine): check it agrees with the config by reading it."""
from __future__ import annotations

import yaml

from core.config import ENV_OVERRIDES, PROJECT_ROOT, load_config

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())


def service(name: str) -> dict:
    return COMPOSE["services"][name]


def test_it_has_kafka_mysql_and_the_scoring_job():
    assert {"kafka", "mysql", "scoring-job"} <= set(COMPOSE["services"])
    assert service("kafka")["image"].startswith("apache/kafka:4.")
    assert service("mysql")["image"].startswith("mysql:8")


def test_host_ports_match_the_local_defaults():
    defaults = load_config(environ={})
    kafka_port = defaults.kafka.bootstrap_host_ports[0][1]
    assert f"127.0.0.1:{kafka_port}:{kafka_port}" in service("kafka")["ports"]
    assert f"127.0.0.1:{defaults.mysql.port}:3306" in service("mysql")["ports"]


def test_every_published_port_is_on_localhost_only():
    published = [port for body in COMPOSE["services"].values() for port in body.get("ports", [])]
    assert published and all(port.startswith("127.0.0.1:") for port in published), published


def test_only_the_one_shot_migrate_service_sees_the_root_password():
    holders = {name for name, body in COMPOSE["services"].items()
               if "mysql_root_password" in body.get("secrets", []) or "MYSQL_ADMIN_USER" in body.get("environment", {})}
    assert holders == {"mysql", "migrate"}
    assert service("scoring-job")["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert "migrate" not in (PROJECT_ROOT / "Dockerfile").read_text().rsplit("CMD", 1)[1]


def test_the_dashboard_reads_with_the_read_only_account():
    dashboard = service("dashboard")
    assert dashboard["environment"]["MYSQL_READER_USER"] == load_config(environ={}).mysql.reader_user
    assert dashboard["secrets"] == ["mysql_reader_password"]


def test_job_environment_uses_the_variables_the_config_reads():
    job_env = service("scoring-job")["environment"]
    unknown = {k for k in job_env if k.startswith(("KAFKA_", "MYSQL_"))} - set(ENV_OVERRIDES)
    assert not unknown, f"variables the job never reads: {unknown}"
    config = load_config(environ={k: v for k, v in job_env.items() if k != "MYSQL_PASSWORD_FILE"})
    assert config.kafka.bootstrap_host_ports[0][0] == "kafka"
    assert config.mysql.host == "mysql" and config.mysql.flavor == "mysql"


def test_job_points_at_the_services_ports_database_and_user():
    job_env = service("scoring-job")["environment"]
    mysql_env = service("mysql")["environment"]
    kafka_env = service("kafka")["environment"]
    assert job_env["MYSQL_DATABASE"] == mysql_env["MYSQL_DATABASE"] == load_config(environ={}).mysql.database
    assert job_env["MYSQL_USER"] == mysql_env["MYSQL_USER"]
    assert job_env["MYSQL_PASSWORD_FILE"] == mysql_env["MYSQL_PASSWORD_FILE"]
    internal_port = job_env["KAFKA_BOOTSTRAP_SERVERS"].rpartition(":")[2]
    assert f"INTERNAL://kafka:{internal_port}" in kafka_env["KAFKA_ADVERTISED_LISTENERS"]
    assert f"kafka:{internal_port}" in " ".join(service("kafka")["healthcheck"]["test"])
    assert set(service("migrate")["depends_on"]) == {"kafka", "mysql"}


def test_dashboard_reads_the_same_database_and_publishes_its_port():
    dashboard, job = service("dashboard")["environment"], service("scoring-job")["environment"]
    assert {k: dashboard[k] for k in ("MYSQL_HOST", "MYSQL_DATABASE", "MYSQL_USER")} == {
        k: job[k] for k in ("MYSQL_HOST", "MYSQL_DATABASE", "MYSQL_USER")}
    port = load_config(environ={}).dashboard.port
    assert f"127.0.0.1:{port}:{port}" in service("dashboard")["ports"]
    assert "dashboard/app.py" in service("dashboard")["command"]
