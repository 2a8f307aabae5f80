"""The model artifact: a joblib'd scikit-learn Pipeline plus metadata.json, in one folder.

model/artifacts/<version>/{model.joblib, metadata.json}; model/CURRENT names the default.
Loading checks the metadata's features against what the stream computes and the
scikit-learn version against the installed one, and refuses a mismatch.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import version
from pathlib import Path

from core.config import PROJECT_ROOT

MODEL_DIR = PROJECT_ROOT / "model"
ARTIFACTS_DIR = MODEL_DIR / "artifacts"
CURRENT_FILE = MODEL_DIR / "CURRENT"


# A version names a folder under the artifacts folder: no path separators, no "..".
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")


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
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ModelArtifactError(f"{path} is not JSON: {error}") from error


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


def artifact_folder(artifacts_dir: Path, version: str) -> Path:
    """The folder of a model version under the artifacts folder (a version is a folder name, never a path)."""
    if not VERSION_PATTERN.match(version) or ".." in version:
        raise ModelArtifactError(f"not a model version: {version!r} (letters, digits, '_', '.', '-')")
    return Path(artifacts_dir) / version


def artifact_versions(artifacts_dir: Path) -> list[str]:
    """The versions stored under the artifacts folder (folders with a metadata.json), oldest first."""
    folders = [path for path in Path(artifacts_dir).iterdir() if (path / "metadata.json").is_file()]
    return [path.name for path in sorted(folders, key=lambda path: read_metadata(path).get("created_at", ""))]


def trial_score(artifact: ModelArtifact) -> ModelArtifact:
    """Load the artifact's model and score one all-zero row: a file that is not a model, or a model
    that cannot score these features, is refused here instead of failing a micro-batch."""
    import numpy as np
    try:
        probabilities = artifact.pipeline.predict_proba(np.zeros((1, len(artifact.feature_names))))
    except Exception as error:  # noqa: BLE001 - whatever a broken file raises, the artifact is refused
        raise ModelArtifactError(f"model {artifact.version} cannot score: {type(error).__name__}: {error}") from error
    if probabilities.shape != (1, 2):
        raise ModelArtifactError(f"model {artifact.version} returns {probabilities.shape[1]} classes, not 2")
    return artifact


def checked_version(artifacts_dir: Path, version: str, expected_features: list[str]) -> ModelArtifact:
    """The artifact of a registry version, refused (ModelArtifactError) unless its metadata names
    that version, it fits the stream's features and this scikit-learn, and its model scores."""
    artifact = load_artifact(artifact_folder(artifacts_dir, version), expected_features)
    if artifact.version != version:
        raise ModelArtifactError(f"the artifact in folder {version} says it is model {artifact.version}")
    return trial_score(artifact)
