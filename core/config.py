"""Load conf/payments.yaml once into frozen, validated dataclasses.

Environment variables override hosts, ports and credentials. A bad value raises
ConfigError naming the key, the value and what is allowed. Passwords are held in
`Secret`, whose repr never shows the value, so logging a config is safe.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from features.definitions import FeatureConfig

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "conf" / "payments.yaml"

ENV_OVERRIDES = {
    "KAFKA_BOOTSTRAP_SERVERS": ("kafka", "bootstrap_servers"),
    "MYSQL_HOST": ("mysql", "host"),
    "MYSQL_PORT": ("mysql", "port"),
    "MYSQL_DATABASE": ("mysql", "database"),
    "MYSQL_USER": ("mysql", "user"),
    "MYSQL_PASSWORD_FILE": ("mysql", "password_file"),
    "MYSQL_FLAVOR": ("mysql", "flavor"),
    "DASHBOARD_PORT": ("dashboard", "port"),
}

_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-_\[\]:]+:\d{1,5}$")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_TOPIC = re.compile(r"^[A-Za-z0-9._\-]{1,249}$")
_DURATION = re.compile(r"^\d+ (millisecond|second|minute|hour)s?$")
_MEMORY = re.compile(r"^\d+[kmgKMG]$")


class ConfigError(ValueError):
    """A configuration value is missing or not allowed."""

    def __init__(self, key: str, value: Any, allowed: str):
        super().__init__(f"config {key} = {value!r}: {allowed}")
        self.key = key


class Secret:
    """A string that never shows itself in repr, str or logs."""

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclass(frozen=True)
class TopicsConfig:
    payments: str
    dlq: str
    alerts: str
    labels: str


@dataclass(frozen=True)
class KafkaConfig:
    bootstrap_servers: str
    partitions: int
    replication_factor: int
    topics: TopicsConfig
    consumer: tuple[tuple[str, str], ...] = ()  # Kafka consumer settings for Spark's source

    @property
    def bootstrap_host_ports(self) -> list[tuple[str, int]]:
        pairs = []
        for item in self.bootstrap_servers.split(","):
            host, _, port = item.strip().rpartition(":")
            pairs.append((host, int(port)))
        return pairs


@dataclass(frozen=True)
class MySqlConfig:
    flavor: str
    host: str
    port: int
    database: str
    user: str
    password_file: Path
    jdbc_batch_size: int
    password_from_env: Secret | None = None

    def password(self) -> Secret:
        """The password: MYSQL_PASSWORD, else the password file's first line."""
        if self.password_from_env is not None:
            return self.password_from_env
        try:
            return Secret(self.password_file.read_text(encoding="utf-8").strip())
        except FileNotFoundError:
            raise ConfigError(
                "mysql.password_file", str(self.password_file),
                "file not found; set MYSQL_PASSWORD, or start the local MariaDB "
                "(make services-up) which writes it",
            ) from None

    @property
    def jdbc_url(self) -> str:
        """JDBC URL with the bulk-insert option measured fastest for each server.

        Always the jdbc:mysql scheme, so Spark picks its MySQL dialect (backquoted names);
        MariaDB Connector/J accepts it with permitMysqlScheme.
        """
        if self.flavor == "mariadb":
            return (f"jdbc:mysql://{self.host}:{self.port}/{self.database}"
                    "?permitMysqlScheme=true&useBulkStmts=true")
        return (f"jdbc:mysql://{self.host}:{self.port}/{self.database}"
                "?rewriteBatchedStatements=true&useSSL=false&allowPublicKeyRetrieval=true")

    @property
    def jdbc_driver(self) -> str:
        return "org.mariadb.jdbc.Driver" if self.flavor == "mariadb" else "com.mysql.cj.jdbc.Driver"


@dataclass(frozen=True)
class StreamConfig:
    starting_offsets: str
    max_offsets_per_trigger: int
    trigger_interval: str
    checkpoint_location: Path
    shuffle_partitions: int
    restart_backoff_max_seconds: int = 30    # longest wait between restarts after an outage
    restart_give_up_seconds: int = 900       # stop restarting after this long without a committed batch


@dataclass(frozen=True)
class SparkConfig:
    master: str
    driver_memory: str
    ui_enabled: bool


@dataclass(frozen=True)
class LocalServicesConfig:
    state_dir: Path
    kafka_controller_port: int
    kafka_heap: str
    start_timeout_seconds: int


@dataclass(frozen=True)
class ModelConfig:
    artifact: str

    def artifact_dir(self) -> Path:
        """The artifact folder: model/CURRENT's version, a version name, or a path."""
        model_dir = PROJECT_ROOT / "model"
        if self.artifact == "current":
            current = model_dir / "CURRENT"
            if not current.exists():
                raise ConfigError("model.artifact", self.artifact, f"{current} is missing; train a model first")
            return model_dir / "artifacts" / current.read_text(encoding="utf-8").strip()
        candidate = Path(self.artifact)
        if candidate.is_absolute() or "/" in self.artifact:
            return candidate if candidate.is_absolute() else PROJECT_ROOT / candidate
        return model_dir / "artifacts" / self.artifact


@dataclass(frozen=True)
class DashboardConfig:
    host: str
    port: int
    refresh_seconds: int   # each view reloads its figures this often
    window_minutes: int    # default time range of the overview, alerts and rejected views

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


ACTIONS = ("APPROVED", "REVIEW", "DECLINED")  # by severity
_RULE_ID = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")


@dataclass(frozen=True)
class DecisionRule:
    id: str
    when: str
    action: str
    description: str


@dataclass(frozen=True)
class DecisionsConfig:
    review_threshold: float | None   # None: take the model's metadata
    decline_threshold: float | None
    rules: tuple[DecisionRule, ...]


@dataclass(frozen=True)
class AppConfig:
    kafka: KafkaConfig
    mysql: MySqlConfig
    stream: StreamConfig
    spark: SparkConfig
    local_services: LocalServicesConfig
    features: FeatureConfig
    model: ModelConfig
    decisions: DecisionsConfig
    source_path: Path
    dashboard: DashboardConfig = DashboardConfig("127.0.0.1", 8501, 5, 60)


def load_config(path: str | os.PathLike | None = None,
                environ: Mapping[str, str] | None = None) -> AppConfig:
    """Read the YAML file (PAYMENTS_CONFIG or conf/payments.yaml), apply env overrides, validate."""
    environ = os.environ if environ is None else environ
    config_path = Path(path or environ.get("PAYMENTS_CONFIG") or DEFAULT_CONFIG_PATH)
    try:
        raw = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError("PAYMENTS_CONFIG", str(config_path), "file not found") from None
    raw = _apply_env_overrides(raw, environ)
    return _build(raw, config_path, environ)


def _apply_env_overrides(raw: dict, environ: Mapping[str, str]) -> dict:
    merged = {section: dict(values or {}) for section, values in raw.items()}
    for variable, (section, key) in ENV_OVERRIDES.items():
        if environ.get(variable):
            merged.setdefault(section, {})[key] = environ[variable]
    return merged


def _build(raw: dict, source: Path, environ: Mapping[str, str]) -> AppConfig:
    kafka = raw.get("kafka", {})
    mysql = raw.get("mysql", {})
    stream = raw.get("stream", {})
    spark = raw.get("spark", {})
    local = raw.get("local_services", {})
    topics = kafka.get("topics", {})
    password = environ.get("MYSQL_PASSWORD")
    return AppConfig(
        kafka=KafkaConfig(
            bootstrap_servers=_bootstrap(kafka, "kafka.bootstrap_servers"),
            partitions=_int(kafka, "partitions", "kafka.partitions", 1, 1024),
            replication_factor=_int(kafka, "replication_factor", "kafka.replication_factor", 1, 16),
            topics=TopicsConfig(**{
                name: _matching(topics, name, f"kafka.topics.{name}", _TOPIC,
                                "a Kafka topic name: 1-249 of A-Za-z0-9._-")
                for name in ("payments", "dlq", "alerts", "labels")
            }),
            consumer=_consumer_settings(kafka.get("consumer") or {}),
        ),
        mysql=MySqlConfig(
            flavor=_choice(mysql, "flavor", "mysql.flavor", ("mariadb", "mysql")),
            host=_non_empty(mysql, "host", "mysql.host"),
            port=_int(mysql, "port", "mysql.port", 1, 65535),
            database=_matching(mysql, "database", "mysql.database", _IDENTIFIER,
                               "1-64 of A-Za-z0-9_"),
            user=_matching(mysql, "user", "mysql.user", _IDENTIFIER, "1-64 of A-Za-z0-9_"),
            password_file=_path(mysql, "password_file", "mysql.password_file"),
            jdbc_batch_size=_int(mysql, "jdbc_batch_size", "mysql.jdbc_batch_size", 1, 1_000_000),
            password_from_env=Secret(password) if password else None,
        ),
        stream=StreamConfig(
            starting_offsets=_choice(stream, "starting_offsets", "stream.starting_offsets",
                                     ("earliest", "latest")),
            max_offsets_per_trigger=_int(stream, "max_offsets_per_trigger",
                                         "stream.max_offsets_per_trigger", 1, 100_000_000),
            trigger_interval=_matching(stream, "trigger_interval", "stream.trigger_interval",
                                       _DURATION, "'<n> milliseconds|seconds|minutes|hours'"),
            checkpoint_location=_path(stream, "checkpoint_location", "stream.checkpoint_location"),
            shuffle_partitions=_int(stream, "shuffle_partitions", "stream.shuffle_partitions", 1, 10_000),
            restart_backoff_max_seconds=_optional_int(stream, "restart_backoff_max_seconds", 30,
                                                      "stream.restart_backoff_max_seconds", 1, 3600),
            restart_give_up_seconds=_optional_int(stream, "restart_give_up_seconds", 900,
                                                  "stream.restart_give_up_seconds", 0, 7 * 86400),
        ),
        spark=SparkConfig(
            master=_non_empty(spark, "master", "spark.master"),
            driver_memory=_matching(spark, "driver_memory", "spark.driver_memory", _MEMORY,
                                    "a JVM size such as 2g or 512m"),
            ui_enabled=_bool(spark, "ui_enabled", "spark.ui_enabled"),
        ),
        local_services=LocalServicesConfig(
            state_dir=_path(local, "state_dir", "local_services.state_dir"),
            kafka_controller_port=_int(local, "kafka_controller_port",
                                       "local_services.kafka_controller_port", 1, 65535),
            kafka_heap=_matching(local, "kafka_heap", "local_services.kafka_heap", _MEMORY,
                                 "a JVM size such as 512m"),
            start_timeout_seconds=_int(local, "start_timeout_seconds",
                                       "local_services.start_timeout_seconds", 1, 3600),
        ),
        features=_features(raw.get("features", {})),
        model=ModelConfig(artifact=_non_empty(raw.get("model", {}), "artifact", "model.artifact")),
        decisions=_decisions(raw.get("decisions", {})),
        source_path=source,
        dashboard=_dashboard(raw.get("dashboard", {}) or {}),
    )


def _dashboard(section: dict) -> DashboardConfig:
    """dashboard: may be left out (older config files); each key has a default."""
    return DashboardConfig(
        host=str(section.get("host", "127.0.0.1")),
        port=_optional_int(section, "port", 8501, "dashboard.port", 1, 65535),
        refresh_seconds=_optional_int(section, "refresh_seconds", 5, "dashboard.refresh_seconds", 1, 3600),
        window_minutes=_optional_int(section, "window_minutes", 60, "dashboard.window_minutes", 1, 7 * 1440),
    )


_CONSUMER_SETTING = re.compile(r"^[a-z][a-z0-9.]*$")
_SOURCE_OWNED = ("bootstrap.servers", "group.id", "auto.offset.reset", "key.deserializer",
                 "value.deserializer", "enable.auto.commit", "interceptor.classes")


def _consumer_settings(section: dict) -> tuple[tuple[str, str], ...]:
    """kafka.consumer: Kafka consumer properties (fetch sizes, buffers) for Spark's source."""
    if not isinstance(section, dict):
        raise ConfigError("kafka.consumer", section, "a mapping of Kafka consumer properties")
    for name in section:
        if not _CONSUMER_SETTING.match(str(name)) or name in _SOURCE_OWNED:
            raise ConfigError(f"kafka.consumer.{name}", section[name],
                              "a Kafka consumer property that Spark's source lets you set "
                              f"(not one of {', '.join(_SOURCE_OWNED)})")
    return tuple((str(name), str(value)) for name, value in sorted(section.items()))


def _features(section: dict) -> FeatureConfig:
    return FeatureConfig(
        customer_windows_days=_int_list(section, "customer_windows_days", "features.customer_windows_days", 1, 365),
        burst_windows_minutes=_int_list(section, "burst_windows_minutes", "features.burst_windows_minutes", 1, 1440),
        terminal_windows_days=_int_list(section, "terminal_windows_days", "features.terminal_windows_days", 1, 365),
        label_delay_days=_int(section, "label_delay_days", "features.label_delay_days", 0, 365),
        allowed_lateness_hours=_int(section, "allowed_lateness_hours", "features.allowed_lateness_hours", 0, 24 * 90),
    )


def _decisions(section: dict) -> DecisionsConfig:
    bands = section.get("score_bands", {}) or {}
    rules, seen = [], set()
    for index, rule in enumerate(section.get("rules", []) or []):
        key = f"decisions.rules[{index}]"
        if not isinstance(rule, dict):
            raise ConfigError(key, rule, "must be a mapping with id, when, action, description")
        rule_id = _matching(rule, "id", f"{key}.id", _RULE_ID, "an upper-case id, A-Z0-9_, at most 32")
        if rule_id in seen:
            raise ConfigError(f"{key}.id", rule_id, "must be unique")
        seen.add(rule_id)
        rules.append(DecisionRule(
            id=rule_id, when=_non_empty(rule, "when", f"{key}.when"),
            action=_choice(rule, "action", f"{key}.action", ACTIONS[1:]),
            description=_non_empty(rule, "description", f"{key}.description")))
    return DecisionsConfig(review_threshold=_threshold(bands, "review"),
                           decline_threshold=_threshold(bands, "decline"), rules=tuple(rules))


def _threshold(section: dict, name: str) -> float | None:
    value = section.get(name, "model")
    if value == "model":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not 0 <= number <= 1:
        raise ConfigError(f"decisions.score_bands.{name}", value, "must be 'model' or a number in 0..1")
    return number


def _int_list(section: dict, name: str, key: str, low: int, high: int) -> tuple[int, ...]:
    value = _present(section, name, key)
    if not isinstance(value, list) or not value:
        raise ConfigError(key, value, f"must be a non-empty list of integers in {low}..{high}")
    return tuple(_int({name: item}, name, key, low, high) for item in value)


def _present(section: dict, name: str, key: str) -> Any:
    if name not in section or section[name] is None or section[name] == "":
        raise ConfigError(key, None, "required")
    return section[name]


def _non_empty(section: dict, name: str, key: str) -> str:
    return str(_present(section, name, key))


def _optional_int(section: dict, name: str, default: int, key: str, low: int, high: int) -> int:
    """An integer setting that may be left out (older config files), checked like _int."""
    return _int({name: section.get(name, default)}, name, key, low, high)


def _int(section: dict, name: str, key: str, low: int, high: int) -> int:
    value = _present(section, name, key)
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ConfigError(key, value, f"must be an integer in {low}..{high}") from None
    if isinstance(value, bool) or not low <= number <= high:
        raise ConfigError(key, value, f"must be an integer in {low}..{high}")
    return number


def _bool(section: dict, name: str, key: str) -> bool:
    value = _present(section, name, key)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise ConfigError(key, value, "must be true or false")


def _choice(section: dict, name: str, key: str, allowed: tuple[str, ...]) -> str:
    value = str(_present(section, name, key))
    if value not in allowed:
        raise ConfigError(key, value, f"must be one of {', '.join(allowed)}")
    return value


def _matching(section: dict, name: str, key: str, pattern: re.Pattern, allowed: str) -> str:
    value = str(_present(section, name, key)).strip()
    if not pattern.match(value):
        raise ConfigError(key, value, f"must be {allowed}")
    return value


def _bootstrap(section: dict, key: str) -> str:
    value = str(_present(section, "bootstrap_servers", key)).strip()
    items = [item.strip() for item in value.split(",")]
    if not all(_HOST_PORT.match(item) and 0 < int(item.rpartition(":")[2]) < 65536 for item in items):
        raise ConfigError(key, value, "must be host:port[,host:port...] with ports in 1..65535")
    return ",".join(items)


def _path(section: dict, name: str, key: str) -> Path:
    path = Path(str(_present(section, name, key)))
    return path if path.is_absolute() else PROJECT_ROOT / path


def describe(config: Any) -> dict:
    """A loggable dict of a config dataclass; secrets stay masked."""
    if is_dataclass(config):
        return {f.name: describe(getattr(config, f.name)) for f in fields(config)}
    if isinstance(config, (Path, Secret)):
        return str(config)
    return config
