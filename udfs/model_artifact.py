"""The model artifact: a joblib'd scikit-learn Pipeline plus metadata.json, in one folder.

model/artifacts/<version>/{model.joblib, metadata.json}; model/CURRENT names the default.
Loading checks the metadata's features against what the stream computes and the
scikit-learn version against the installed one, and refuses a mismatch.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import version
from pathlib import Path

from core.config import PROJECT_ROOT

MODEL_DIR = PROJECT_ROOT / "model"
ARTIFACTS_DIR = MODEL_DIR / "artifacts"
CURRENT_FILE = MODEL_DIR / "CURRENT"


class ModelArtifactError(RuntimeError):
    """The model artifact is missing or does not fit this installation."""


@dataclass(frozen=True)
class ModelArtifact:
    """An artifact checked against this installation; the pipeline itself is loaded on first use
    (by the Python workers that score: the driver needs only the metadata)."""

    metadata: dict
    folder: Path

    @cached_property
    def pipeline(self) -> object:
        import joblib
        return joblib.load(self.folder / "model.joblib")

    @property
    def version(self) -> str:
        return self.metadata["version"]

    @property
    def feature_names(self) -> list[str]:
        return list(self.metadata["feature_names"])


def current_artifact_dir() -> Path:
    if not CURRENT_FILE.exists():
        raise ModelArtifactError(f"{CURRENT_FILE} is missing; train a model (make train) or name one")
    return ARTIFACTS_DIR / CURRENT_FILE.read_text(encoding="utf-8").strip()


def save_artifact(folder: Path, pipeline, metadata: dict) -> None:
    import joblib
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, folder / "model.joblib", compress=3)
    (folder / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")


def read_metadata(folder: Path) -> dict:
    path = Path(folder) / "metadata.json"
    if not path.exists():
        raise ModelArtifactError(f"no model metadata at {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def check_compatible(metadata: dict, expected_features: list[str]) -> None:
    """Refuse an artifact trained on other features or with another scikit-learn."""
    trained_with = metadata.get("library_versions", {}).get("scikit-learn")
    installed = version("scikit-learn")  # without importing it: the driver never runs the model
    if trained_with != installed:
        raise ModelArtifactError(
            f"model {metadata.get('version')} was trained with scikit-learn {trained_with}, but "
            f"{installed} is installed; retrain (make train) or install {trained_with}")
    if list(metadata.get("feature_names", [])) != list(expected_features):
        raise ModelArtifactError(
            f"model {metadata.get('version')} expects features {metadata.get('feature_names')}, but the "
            f"stream computes {expected_features} (conf/ features:); retrain or restore the windows")


def load_artifact(folder: Path, expected_features: list[str]) -> ModelArtifact:
    metadata = read_metadata(folder)
    check_compatible(metadata, expected_features)
    if not (Path(folder) / "model.joblib").is_file():
        raise ModelArtifactError(f"no model at {Path(folder) / 'model.joblib'}")
    return ModelArtifact(metadata, Path(folder))
