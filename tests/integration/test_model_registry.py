"""Champion and challenger against the real MariaDB, Kafka and Spark: the `python -m model`
commands, and the running job switching models between two micro-batches without a restart."""
from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import pytest

from features.definitions import model_feature_names
from model.__main__ import main as model_command
from pipeline.scoring_query import start_scoring_query
from services.grants import granting_connection
from sinks.model_registry import Assignment, record_assignment
from tests.job_runner import write_job_config
from tests.kafka_helpers import payment, produce
from tests.model_helpers import copy_current_artifact, tiny_artifact

pytestmark = pytest.mark.integration


@pytest.fixture
def registry_config(isolated_config, tmp_path):
    """The test's config with its own artifacts folder (the current model and two small ones); the
    registry rows the test adds are deleted afterwards (the shared database's registry stays as it was)."""
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    champion = copy_current_artifact(artifacts)
    features = model_feature_names(isolated_config.features)
    tiny_artifact(artifacts, "tiny-a", features, seed=1, thresholds={"review": 0.0, "decline": 1.01})
    tiny_artifact(artifacts, "tiny-b", features, seed=2)
    config = isolated_config.model_copy(update={"model": replace(isolated_config.model, artifact=champion,
                                                                 artifacts_dir=artifacts)})
    with granting_connection(config) as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM `{config.mysql.database}`.model_registry")
        first_row = cursor.fetchone()[0]
        cursor.execute(f"DELETE FROM `{config.mysql.database}`.model_registry")  # a known start: empty
    yield config
    with granting_connection(config) as connection, connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM `{config.mysql.database}`.model_registry WHERE id > %s", (first_row,))


def yaml_of(config, tmp_path):
    """The config as a YAML file for the command line."""
    import yaml
    path = write_job_config(config, tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["model"].update(artifact=config.model.artifact, artifacts_dir=str(config.model.artifacts_dir))
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def broken_artifact(config, name: str) -> None:
    """An artifact whose metadata fits but whose model file is not a model."""
    folder = tiny_artifact(config.model.artifacts_dir, name, model_feature_names(config.features), seed=5)
    (folder / "model.joblib").write_bytes(b"not a pickle at all")


def test_promote_shadow_rollback_and_a_refused_artifact_from_the_command_line(registry_config, tmp_path, capsys):
    config_file, champion = yaml_of(registry_config, tmp_path), registry_config.model.artifact
    broken_artifact(registry_config, "tiny-broken")
    assert model_command(["--config", config_file, "--by", "ana", "promote", "tiny-broken"]) == 2
    assert "model tiny-broken is refused" in capsys.readouterr().err
    assert model_command(["--config", config_file, "--by", "ana", "promote", "tiny-a"]) == 0
    assert model_command(["--config", config_file, "--by", "ana", "shadow", "tiny-b"]) == 0
    assert model_command(["--config", config_file, "list"]) == 0
    listing = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()[1:]
               if len(line.split()) > 1 and line.split()[1] in ("champion", "shadow")}
    assert listing == {"tiny-a": "champion", "tiny-b": "shadow"}
    assert model_command(["--config", config_file, "--by", "ben", "rollback"]) == 0
    assert model_command(["--config", config_file, "rollback"]) == 2
    assert "nothing to roll back" in capsys.readouterr().err
    assert model_command(["--config", config_file, "history"]) == 0
    history = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert [(row[2], row[4], row[6], row[8]) for row in history] == [
        ("promote", "tiny-a", "-", "ana"), ("shadow", "tiny-a", "tiny-b", "ana"),
        ("rollback", champion, "tiny-b", "ben")]


def scored_versions(connection, stream_id: str) -> list[tuple]:
    """(transaction_id, model_version, shadow_model_version, has shadow score, decision) per scored row."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT transaction_id, model_version, shadow_model_version, shadow_score IS NOT NULL, decision "
                       "FROM scored_transactions WHERE stream_id = %s ORDER BY transaction_id", (stream_id,))
        return cursor.fetchall()


def ledger_versions(connection, stream_id: str) -> set[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT model_version, shadow_model_version FROM stream_batches "
                       "WHERE stream_id = %s AND rows_scored > 0", (stream_id,))
        return set(cursor.fetchall())


def committed_payments(connection, stream_id: str) -> int:
    """Payments of the stream's committed batches (the ledger's rows; a batch's scored rows are
    visible a moment before its ledger row commits)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(SUM(rows_scored), 0) FROM stream_batches WHERE stream_id = %s", (stream_id,))
        return int(cursor.fetchone()[0])


def send_and_wait(config, connection, query, prefix: str, expected_total: int) -> None:
    """Ten payments, then until the running job has committed them (a micro-batch or two): the
    query is stopped only between batches, as the job itself does."""
    produce(config.kafka.bootstrap_servers, config.kafka.topics.payments,
            [(f"C{i}", payment(f"{prefix}-{i}", customer_id=f"C{i}", amount=20 + i)) for i in range(10)])
    deadline = time.monotonic() + 120
    while committed_payments(connection, str(query.id)) < expected_total:
        assert query.exception() is None and time.monotonic() < deadline, query.exception() or "no batch in 120 s"
        time.sleep(0.5)


def test_the_running_job_switches_models_between_micro_batches_and_refuses_a_broken_one(
        spark, registry_config, mysql_connection, unique_id, caplog):
    champion = registry_config.model.artifact
    broken_artifact(registry_config, "tiny-broken")
    config = registry_config.model_copy(update={"stream": replace(registry_config.stream, trigger_interval="1 second")})
    query = start_scoring_query(spark, config, {"processingTime": "1 second"})
    try:
        send_and_wait(config, mysql_connection, query, f"{unique_id}-1", 10)
        with mysql_connection.cursor() as cursor:  # what `python -m model promote tiny-a; shadow ...` writes
            record_assignment(cursor, "promote", Assignment("tiny-a", champion), "test")
        send_and_wait(config, mysql_connection, query, f"{unique_id}-2", 20)
        with caplog.at_level(logging.ERROR, logger="pipeline.model_swap"), mysql_connection.cursor() as cursor:
            record_assignment(cursor, "promote", Assignment("tiny-broken"), "test")  # past the command's check
            send_and_wait(config, mysql_connection, query, f"{unique_id}-3", 30)
    finally:
        query.stop()
    rows = scored_versions(mysql_connection, str(query.id))
    by_round = {round_: {row[1:] for row in rows if row[0].startswith(f"{unique_id}-{round_}-")} for round_ in "123"}
    assert {version for version, *_ in by_round["1"]} == {champion}
    assert {shadow for _, shadow, *_ in by_round["1"]} == {None}
    assert by_round["2"] == {("tiny-a", champion, 1, "REVIEW")}  # tiny-a's thresholds: every payment to review
    assert by_round["3"] == {("tiny-a", None, 0, "REVIEW")}  # the broken model refused, tiny-a stays
    assert ledger_versions(mysql_connection, str(query.id)) == {
        (champion, None), ("tiny-a", champion), ("tiny-a", None)}
    assert "model tiny-broken named by the registry is refused" in caplog.text


def test_an_unreachable_database_or_a_missing_artifacts_folder_is_a_clear_error(registry_config, tmp_path, capsys):
    import yaml
    config_file = yaml_of(registry_config, tmp_path)
    raw = yaml.safe_load(Path(config_file).read_text())
    raw["mysql"].update(port=1, connect_timeout_s=2)  # nothing listens there
    closed = tmp_path / "closed.yaml"
    closed.write_text(yaml.safe_dump(raw))
    assert model_command(["--config", str(closed), "list"]) == 3
    assert "the registry's database cannot be used" in capsys.readouterr().err
    raw = yaml.safe_load(Path(config_file).read_text())
    raw["model"]["artifacts_dir"] = str(tmp_path / "nowhere")
    missing = tmp_path / "missing.yaml"
    missing.write_text(yaml.safe_dump(raw))
    assert model_command(["--config", str(missing), "list"]) == 2
    assert "no artifacts folder" in capsys.readouterr().err
