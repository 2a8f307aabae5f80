"""The job's entry point: --help, and a refusal to start with a model that does not fit."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import yaml

from core.config import DEFAULT_CONFIG_PATH, PROJECT_ROOT
from jobs.score_payments import main
from udfs.model_artifact import current_artifact_dir


def test_help_explains_the_options():
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "jobs" / "score_payments.py"), "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for option in ("--checkpoint", "--starting-offsets", "--max-offsets-per-trigger", "--available-now"):
        assert option in result.stdout


def test_job_refuses_to_start_with_a_model_trained_on_other_features(tmp_path, caplog):
    artifact = tmp_path / "artifact"
    shutil.copytree(current_artifact_dir(), artifact)
    metadata = json.loads((artifact / "metadata.json").read_text())
    metadata["feature_names"] = metadata["feature_names"][:-1]
    (artifact / "metadata.json").write_text(json.dumps(metadata))
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    raw["model"]["artifact"] = str(artifact)
    config_path = tmp_path / "payments.yaml"
    config_path.write_text(yaml.safe_dump(raw))
    assert main(["--config", str(config_path)]) == 2
    assert "refusing to start" in caplog.text and "expects features" in caplog.text
