"""Champion and challenger: list the stored model versions, promote one, score one in the shadow
of the champion, roll a promotion back. Each command appends a row to the registry's history
(sinks/model_registry.py); the running job picks the change up before its next micro-batch.
A version whose artifact does not load, fit the stream's features or score is refused here."""
from __future__ import annotations

from dataclasses import dataclass

from core.config import AppConfig
from features.definitions import model_feature_names
from sinks.model_registry import Assignment, RegistryEntry, latest_assignment, record_assignment, registry_history
from sinks.mysql_connection import connect
from udfs.model_artifact import artifact_versions, checked_version, read_metadata

REGISTRY_LOCK = "payscore.model_registry"
LOCK_WAIT_SECONDS = 10


class RegistryError(RuntimeError):
    """A registry command that cannot apply (an unknown or refused version, nothing to roll back)."""


def current_assignment(history: list[RegistryEntry], default_champion: str) -> Assignment:
    return history[-1].assignment if history else Assignment(default_champion)


def champions_stack(history: list[RegistryEntry], default_champion: str) -> list[str]:
    """The champions a rollback returns to, oldest first: each promotion pushes, each rollback pops."""
    stack = [default_champion]
    for entry in history:
        if entry.action == "promote":
            stack.append(entry.assignment.champion)
        elif entry.action == "rollback" and len(stack) > 1:
            stack.pop()
    return stack


def next_assignment(history: list[RegistryEntry], action: str, version: str | None,
                    default_champion: str) -> Assignment:
    """The assignment after a command, from the history (pure: no database, no artifact)."""
    current = current_assignment(history, default_champion)
    if action == "promote":
        if version == current.champion:
            raise RegistryError(f"{version} is already the champion")
        return Assignment(version, None if current.shadow == version else current.shadow)
    if action == "shadow":
        if version == current.champion:
            raise RegistryError(f"{version} is the champion; a shadow must be another version")
        return Assignment(current.champion, version)
    if action == "unshadow":
        if current.shadow is None:
            raise RegistryError("no shadow model is set")
        return Assignment(current.champion)
    if action == "rollback":
        stack = champions_stack(history, default_champion)
        if len(stack) < 2:
            raise RegistryError(f"nothing to roll back: {current.champion} was never promoted over another version")
        previous = stack[-2]
        return Assignment(previous, None if current.shadow == previous else current.shadow)
    raise RegistryError(f"not a registry command: {action}")


@dataclass(frozen=True)
class ModelRegistry:
    """The registry of one deployment: its database (the job's account) and its artifacts folder."""

    config: AppConfig

    @property
    def default_champion(self) -> str:
        return self.config.model.artifact_dir().name

    def history(self) -> list[RegistryEntry]:
        with connect(self.config.mysql, autocommit=True) as connection, connection.cursor() as cursor:
            return registry_history(cursor)

    def current(self) -> Assignment:
        with connect(self.config.mysql, autocommit=True) as connection, connection.cursor() as cursor:
            return latest_assignment(cursor) or Assignment(self.default_champion)

    def versions(self) -> list[dict]:
        """Each stored version with its metadata's test-week figures and its role."""
        current = self.current()
        roles = {current.champion: "champion", **({current.shadow: "shadow"} if current.shadow else {})}
        listed = []
        if not self.config.model.artifacts_dir.is_dir():
            raise RegistryError(f"no artifacts folder {self.config.model.artifacts_dir} (model.artifacts_dir)")
        for version in artifact_versions(self.config.model.artifacts_dir):
            metadata = read_metadata(self.config.model.artifacts_dir / version)
            listed.append({"version": version, "role": roles.get(version, ""), "model": metadata.get("model", ""),
                           "created_at": metadata.get("created_at", ""), **metadata.get("metrics", {})})
        return listed

    def apply(self, action: str, version: str | None, changed_by: str) -> Assignment:
        """Check the version's artifact, then append the new assignment. A named lock serialises
        the commands, so two at once cannot both apply to the same state."""
        if version is not None:
            self.check(version)
        with connect(self.config.mysql, autocommit=True) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, %s)", (REGISTRY_LOCK, LOCK_WAIT_SECONDS))
            if cursor.fetchone()[0] != 1:
                raise RegistryError(f"another registry command holds the lock for more than {LOCK_WAIT_SECONDS} s")
            try:
                assignment = next_assignment(registry_history(cursor), action, version, self.default_champion)
                if action == "rollback":
                    self.check(assignment.champion)
                record_assignment(cursor, action, assignment, changed_by)
            finally:
                cursor.execute("SELECT RELEASE_LOCK(%s)", (REGISTRY_LOCK,))
        return assignment

    def check(self, version: str) -> None:
        try:
            checked_version(self.config.model.artifacts_dir, version, model_feature_names(self.config.features))
        except Exception as error:  # noqa: BLE001 - any reason the artifact cannot serve is a refusal
            raise RegistryError(f"model {version} is refused: {error}") from error
