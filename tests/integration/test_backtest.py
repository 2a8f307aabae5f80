"""The backtest against the real Spark, MariaDB and model: a generated labelled month through the
job's own stages into the variants' databases, and a report whose figures can be checked."""
from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import pytest
import yaml

from backtest.__main__ import main as backtest_command
from features.definitions import model_feature_names
from generator.simulator import SimulationParams, generate
from services.mariadb_server import MariaDbServer
from sinks.mysql_connection import connect
from tests.job_runner import end_offsets, produce_generated, write_job_config
from tests.kafka_helpers import consume_to_end
from tests.model_helpers import copy_current_artifact, tiny_artifact

pytestmark = pytest.mark.integration
CANDIDATE_RULES = {"rules": [{"id": "BIG_AMOUNT", "when": "amount_base > 150", "action": "REVIEW",
                              "description": "a large payment"}]}


@pytest.fixture
def backtest_setup(isolated_config, tmp_path, unique_id):
    """A labelled dataset file, a config file with its own artifacts folder (the current model and a
    small candidate) and the test's own database prefix."""
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    champion = copy_current_artifact(artifacts)
    tiny_artifact(artifacts, "tiny-candidate", model_feature_names(isolated_config.features), seed=4)
    config = isolated_config.model_copy(update={"model": replace(isolated_config.model, artifact=champion,
                                                                 artifacts_dir=artifacts)})
    path = write_job_config(config, tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["model"].update(artifact=champion, artifacts_dir=str(artifacts))
    path.write_text(yaml.safe_dump(raw))
    dataset = generate(SimulationParams(n_customers=300, n_terminals=600, n_days=20, seed=3))[0]
    dataset.to_parquet(tmp_path / "labelled.parquet")
    rules = tmp_path / "candidate.yaml"
    rules.write_text(yaml.safe_dump(CANDIDATE_RULES))
    prefix = f"bt_{unique_id[-12:].replace('-', '_').lower()}_backtest"
    yield config, str(path), dataset, str(rules), prefix
    server = MariaDbServer.from_config(config)
    for variant in ("current", "candidate"):
        server.drop_database(f"{prefix}_{variant}")


def stored(config, database: str) -> pd.DataFrame:
    with connect(replace(config.mysql, database=database), autocommit=True) as connection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT transaction_id, amount_base, decision, reasons, model_version "
                           "FROM scored_transactions")
            return pd.DataFrame(cursor.fetchall(), columns=["transaction_id", "amount_base", "decision", "reasons",
                                                            "model_version"])


def test_a_candidate_rule_and_model_are_reported_beside_the_current_configuration(
        spark, backtest_setup, tmp_path, capsys):
    config, config_file, dataset, rules, prefix = backtest_setup
    out = tmp_path / "report"
    assert backtest_command(["--config", config_file, "--input", str(tmp_path / "labelled.parquet"),
                             "--rules", rules, "--model", "tiny-candidate", "--database-prefix", prefix,
                             "--out", str(out)]) == 0
    captured = capsys.readouterr()
    current, candidate = stored(config, f"{prefix}_current"), stored(config, f"{prefix}_candidate")
    assert len(current) == len(candidate) == dataset["transaction_id"].nunique()  # every payment, once
    assert set(current["model_version"]) == {config.model.artifact}
    assert set(candidate["model_version"]) == {"tiny-candidate"}
    big = candidate[candidate["amount_base"].astype(float) > 150]
    assert len(big) == (dataset["amount"] > 150).sum() > 0  # the rule fired exactly for the large payments
    assert big["reasons"].str.contains("BIG_AMOUNT").all() and (big["decision"] != "APPROVED").all()
    report = (out / "report.md").read_text()
    assert f"| BIG_AMOUNT | {len(big):,} |" in report
    assert "| card precision@100 |" in report and "## Alerts that change" in report
    for plot in ("precision_recall.png", "score_distribution.png", "alerts_per_day.png"):
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| alert rate |" in captured.out and "task" in captured.err  # the summary, and the progress bar


def test_a_rules_file_that_does_not_compile_is_refused_before_anything_runs(backtest_setup, tmp_path, capsys):
    _, config_file, _, _, prefix = backtest_setup
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"rules": [{"id": "BROKEN", "when": "amount_base >", "action": "REVIEW",
                                              "description": "does not parse"}]}))
    assert backtest_command(["--config", config_file, "--input", str(tmp_path / "labelled.parquet"),
                             "--rules", str(bad), "--database-prefix", prefix, "--out", str(tmp_path / "r")]) == 2
    assert "decision rule BROKEN" in capsys.readouterr().err


def test_a_kafka_offset_range_is_replayed_labelled_by_the_labels_topic(spark, backtest_setup, tmp_path, unique_id):
    """--kafka-topic: the payments of an offset range (the job's parser), each labelled by its latest
    label on the labels topic; every payment in the range is scored once and the frauds are counted."""
    config, config_file, _, _, prefix = backtest_setup
    topics, bootstrap = config.kafka.topics, config.kafka.bootstrap_servers
    produce_generated(config, 2500, f"{unique_id}-")
    skipped = 100
    starting = json.dumps({topics.payments: {str(p): min(skipped, end)
                                             for p, end in end_offsets(bootstrap, topics.payments).items()}})
    in_range = {json.loads(m.value())["transaction_id"] for m in consume_to_end(bootstrap, topics.payments)
                if m.offset() >= skipped}
    labels = {}
    for message in consume_to_end(bootstrap, topics.labels):  # in offset order within a key's partition
        label = json.loads(message.value())
        labels[label["transaction_id"]] = label["is_fraud"]
    frauds = sum(1 for transaction_id in in_range if labels.get(transaction_id))
    out = tmp_path / "kafka-report"
    assert backtest_command(["--config", config_file, "--kafka-topic", topics.payments, "--from-offsets", starting,
                             "--database-prefix", prefix, "--out", str(out),
                             "--save-dataset", str(tmp_path / "from-kafka.parquet")]) == 0
    current = stored(config, f"{prefix}_current")
    assert set(current["transaction_id"]) == in_range and len(current) == len(in_range)
    report = (out / "report.md").read_text()
    assert f"| payments | {len(in_range):,} |" in report and f"| frauds | {frauds:,} |" in report and frauds > 0
    assert f"Kafka topic {topics.payments} from {starting}" in report
    saved = pd.read_parquet(tmp_path / "from-kafka.parquet")  # a training set: make train ARGS="--input ..."
    assert set(saved["transaction_id"]) == in_range and int(saved["is_fraud"].sum()) == frauds
