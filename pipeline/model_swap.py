"""Hot swap: before each micro-batch the driver reads the model registry (one indexed SELECT) and
scores the batch with the champion and shadow it names. A version seen for the first time is
checked (metadata, features, a trial score) and shipped to the executors; a refused one is
logged once and the running models stay."""
from __future__ import annotations

import logging
from collections.abc import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from core.config import ALERT_ACTIONS, AppConfig
from decisions.rules import score_bands, with_decision
from features.definitions import model_feature_names
from features.velocity import is_scored
from sinks.model_registry import Assignment, latest_assignment
from sinks.mysql_connection import ReusedConnection
from udfs.explain import explanation_column
from udfs.model_artifact import ModelArtifact, ModelArtifactError, artifact_folder, checked_version
from udfs.scoring import ScoringModels, ship_model, with_score

log = logging.getLogger(__name__)


def scoring_transform(config: AppConfig, models: ScoringModels) -> Callable[[DataFrame], DataFrame]:
    """Transform: featured records -> + scores (champion and shadow), the champion's decision, and
    for an alert its top feature contributions."""
    scored = is_scored()
    bands = score_bands(config.decisions, models.champion.metadata.get("thresholds", {}))
    score, decide = with_score(models, scored), with_decision(config.decisions.rules, bands, scored)
    is_alert = scored & F.col("decision").isin(*ALERT_ACTIONS)
    explanation = {"top_features": explanation_column(models.champion, is_alert) if config.model.explain_alerts
                   else F.lit(None).cast("string")}
    return lambda records_df: records_df.transform(score).transform(decide).withColumns(explanation)


def fixed_scoring(config: AppConfig, models: ScoringModels):
    """The batch writer's scoring for the same models on every batch (no registry)."""
    transform = scoring_transform(config, models)
    return lambda: (models, transform)


class ModelSwitch:
    """The models of each micro-batch, as the registry names them (the configured model while it is empty)."""

    def __init__(self, spark: SparkSession, config: AppConfig, initial: ModelArtifact):
        self.spark, self.config = spark, config
        self.features = model_feature_names(config.features)
        self.connection = ReusedConnection(config.mysql)
        self.artifacts: dict[str, ModelArtifact] = {initial.version: initial}
        self.refused: dict[str, tuple] = {}  # version -> its files' state when refused
        self.models = ScoringModels(initial)
        self.transform = scoring_transform(config, self.models)

    def for_batch(self) -> tuple[ScoringModels, Callable[[DataFrame], DataFrame]]:
        """The batch's models and its scoring transform (rebuilt only when the models change)."""
        with self.connection.cursor() as cursor:
            wanted = latest_assignment(cursor)
        if wanted is not None and wanted != Assignment(*self.models.versions):
            self._switch_to(wanted)
        return self.models, self.transform

    def _switch_to(self, wanted: Assignment) -> None:
        champion = self._artifact(wanted.champion) or self.models.champion
        shadow = self._artifact(wanted.shadow) if wanted.shadow else None
        if wanted.shadow and shadow is None:
            shadow = self.models.shadow
        models = ScoringModels(champion, shadow)
        if models.versions != self.models.versions:
            log.info("models from this batch on: champion %s, shadow %s (were %s, %s)", *models.versions,
                     *self.models.versions)
            self.models, self.transform = models, scoring_transform(self.config, models)
            self.artifacts = {version: self.artifacts[version] for version in models.versions if version}

    def _artifact(self, version: str) -> ModelArtifact | None:
        """The checked and shipped artifact of a version, None when it is refused (logged once)."""
        if version in self.artifacts:
            return self.artifacts[version]
        if self.refused.get(version) == self._files_state(version):
            return None  # refused before, and its files have not changed since
        try:
            artifact = checked_version(self.config.model.artifacts_dir, version, self.features)
        except ModelArtifactError as error:
            self.refused[version] = self._files_state(version)
            log.error("model %s named by the registry is refused, the running models stay: %s", version, error)
            return None
        ship_model(self.spark, artifact.folder)
        self.artifacts[version] = artifact
        return artifact

    def _files_state(self, version: str) -> tuple:
        """(name, size, mtime) of a version's files: a fixed artifact is checked again."""
        try:
            folder = artifact_folder(self.config.model.artifacts_dir, version)
            return tuple((path.name, path.stat().st_size, path.stat().st_mtime_ns) for path in sorted(folder.iterdir()))
        except (OSError, ModelArtifactError):
            return ()
