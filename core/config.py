"""Load conf/payments.yaml once into frozen, validated settings (pydantic-settings).

Environment variables override hosts, ports and credentials (ENV_OVERRIDES); PAYMENTS_CONFIG
names another file. A bad value raises ConfigError naming the key, the value and what is
allowed. Passwords are SecretStr: shown as '**********' wherever a config is logged.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.dataclasses import dataclass
from pydantic_core import ArgsKwargs
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, YamlConfigSettingsSource

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "conf" / "payments.yaml"
MICROS_PER_MINUTE = 60_000_000
MICROS_PER_DAY = 86_400_000_000

# The documented environment variables and the key each sets.
ENV_OVERRIDES = {
    "KAFKA_BOOTSTRAP_SERVERS": ("kafka", "bootstrap_servers"),
    "KAFKA_SECURITY_PROTOCOL": ("kafka", "security", "protocol"),
    "KAFKA_SSL_CA_FILE": ("kafka", "security", "ca_file"),
    "KAFKA_SASL_MECHANISM": ("kafka", "security", "sasl_mechanism"),
    "KAFKA_SASL_USERNAME": ("kafka", "security", "sasl_username"),
    "KAFKA_SASL_PASSWORD": ("kafka", "security", "sasl_password"),
    "KAFKA_SASL_PASSWORD_FILE": ("kafka", "security", "sasl_password_file"),
    "KAFKA_LABELS_TOPIC": ("kafka", "topics", "labels"),
    "KAFKA_ALERTS_TOPIC": ("kafka", "topics", "alerts"),
    "KAFKA_DLQ_TOPIC": ("kafka", "topics", "dlq"),
    "MYSQL_TLS_MODE": ("mysql", "tls", "mode"),
    "MYSQL_TLS_CA_FILE": ("mysql", "tls", "ca_file"),
    "MYSQL_HOST": ("mysql", "host"),
    "MYSQL_PORT": ("mysql", "port"),
    "MYSQL_DATABASE": ("mysql", "database"),
    "MYSQL_USER": ("mysql", "user"),
    "MYSQL_PASSWORD": ("mysql", "password"),
    "MYSQL_PASSWORD_FILE": ("mysql", "password_file"),
    "MYSQL_FLAVOR": ("mysql", "flavor"),
    "MYSQL_READER_USER": ("mysql", "reader_user"),
    "MYSQL_READER_PASSWORD": ("mysql", "reader_password"),
    "MYSQL_READER_PASSWORD_FILE": ("mysql", "reader_password_file"),
    "DASHBOARD_PORT": ("dashboard", "port"),
    "DASHBOARD_USERS_FILE": ("dashboard", "users_file"),
    "DASHBOARD_KAFKA_BOOTSTRAP_SERVERS": ("dashboard", "label_writer", "bootstrap_servers"),
    "DASHBOARD_KAFKA_USERNAME": ("dashboard", "label_writer", "sasl_username"),
    "DASHBOARD_KAFKA_PASSWORD": ("dashboard", "label_writer", "sasl_password"),
    "MODEL_ARTIFACTS_DIR": ("model", "artifacts_dir"),
}
ACTIONS = ("APPROVED", "REVIEW", "DECLINED")  # by severity
ALERT_ACTIONS = ACTIONS[1:]  # the decisions that raise an alert
# Every session the job opens refuses a value it would otherwise truncate or coerce (a server's
# default may be lenient): the sink quarantines such a row instead of storing it altered.
STRICT_SQL_MODE = "STRICT_ALL_TABLES"
FROZEN = {"frozen": True, "config": {"extra": "forbid"}}


class ConfigError(ValueError):
    """A configuration value is missing or not allowed."""

    def __init__(self, key: str, value: Any, allowed: str):
        super().__init__(f"config {key} = {value!r}: {allowed}")
        self.key = key


def _project_path(value: Path) -> Path:
    return value if value.is_absolute() else PROJECT_ROOT / value


def _host_ports(value: str) -> str:
    items = [item.strip() for item in value.split(",")]
    pattern = re.compile(r"^[A-Za-z0-9.\-_\[\]:]+:(\d{1,5})$")
    if not all((m := pattern.match(item)) and 0 < int(m.group(1)) < 65536 for item in items):
        raise ValueError("must be host:port[,host:port...] with ports in 1..65535")
    return ",".join(items)


ProjectPath = Annotated[Path, AfterValidator(_project_path)]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,64}$", description="1-64 of A-Za-z0-9_")]
TopicName = Annotated[str, Field(pattern=r"^[A-Za-z0-9._\-]{1,249}$")]
Duration = Annotated[str, Field(pattern=r"^\d+ (millisecond|second|minute|hour)s?$")]
JvmSize = Annotated[str, Field(pattern=r"^\d+[kmgKMG]$")]
Port = Annotated[int, Field(ge=1, le=65535)]


@dataclass(**FROZEN)
class TopicsConfig:
    payments: TopicName
    dlq: TopicName
    alerts: TopicName
    labels: TopicName


SOURCE_OWNED = ("bootstrap.servers", "group.id", "auto.offset.reset", "key.deserializer", "value.deserializer",
                "enable.auto.commit", "interceptor.classes")


@dataclass(**FROZEN)
class KafkaSecurityConfig:
    """How every Kafka client the project opens connects (Spark's source and sink, admin,
    producer): PLAINTEXT, SSL (the broker verified against ca_file, or the system's CAs) or
    SASL_SSL (also a user and password). The password comes from KAFKA_SASL_PASSWORD or a file."""

    protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL"] = "PLAINTEXT"
    ca_file: ProjectPath | None = None
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    sasl_password_file: ProjectPath | None = None

    @model_validator(mode="after")
    def _complete(self) -> KafkaSecurityConfig:
        if self.protocol == "SASL_SSL" and not (self.sasl_username and (self.sasl_password or self.sasl_password_file)):
            raise ValueError("SASL_SSL needs sasl_username and a password (KAFKA_SASL_PASSWORD or sasl_password_file)")
        if self.ca_file is not None and not self.ca_file.is_file():
            raise ValueError(f"ca_file {self.ca_file} is not a file")
        return self

    def password(self) -> SecretStr:
        if self.sasl_password is not None:
            return self.sasl_password
        try:
            return SecretStr(self.sasl_password_file.read_text(encoding="utf-8").strip())
        except FileNotFoundError:
            raise ConfigError("kafka.security.sasl_password_file", str(self.sasl_password_file),
                              "file not found; set KAFKA_SASL_PASSWORD") from None

    def librdkafka_settings(self) -> dict[str, str]:
        """confluent-kafka (librdkafka) settings; the broker's name is checked against its certificate."""
        if self.protocol == "PLAINTEXT":
            return {}
        settings = {"security.protocol": self.protocol.lower(), "ssl.endpoint.identification.algorithm": "https"}
        if self.ca_file is not None:
            settings["ssl.ca.location"] = str(self.ca_file)
        if self.protocol == "SASL_SSL":
            settings.update({"sasl.mechanisms": self.sasl_mechanism, "sasl.username": self.sasl_username,
                             "sasl.password": self.password().get_secret_value()})
        return settings

    def java_client_properties(self) -> dict[str, str]:
        """Kafka Java client properties (Spark's source and sink take them prefixed with `kafka.`)."""
        if self.protocol == "PLAINTEXT":
            return {}
        properties = {"security.protocol": self.protocol, "ssl.endpoint.identification.algorithm": "https"}
        if self.ca_file is not None:
            properties.update({"ssl.truststore.type": "PEM", "ssl.truststore.location": str(self.ca_file)})
        if self.protocol == "SASL_SSL":
            properties.update({"sasl.mechanism": self.sasl_mechanism, "sasl.jaas.config": self._jaas()})
        return properties

    def _jaas(self) -> str:
        module = ("org.apache.kafka.common.security.plain.PlainLoginModule" if self.sasl_mechanism == "PLAIN"
                  else "org.apache.kafka.common.security.scram.ScramLoginModule")
        return (f'{module} required username="{_jaas_quoted(self.sasl_username)}" '
                f'password="{_jaas_quoted(self.password().get_secret_value())}";')


def _jaas_quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


@dataclass(**FROZEN)
class MySqlTlsConfig:
    """TLS to MySQL/MariaDB: disabled, or verified against ca_file (verify_ca: the chain;
    verify_full: the chain and the server's name), for PyMySQL and JDBC alike."""

    mode: Literal["disabled", "verify_ca", "verify_full"] = "disabled"
    ca_file: ProjectPath | None = None

    @model_validator(mode="after")
    def _ca_given(self) -> MySqlTlsConfig:
        if self.mode != "disabled" and (self.ca_file is None or not self.ca_file.is_file()):
            raise ValueError(f"mode {self.mode} needs ca_file, the PEM CA the server's certificate chains to "
                             f"({self.ca_file} is not a file)")
        return self


@dataclass(**FROZEN)
class KafkaConfig:
    bootstrap_servers: Annotated[str, AfterValidator(_host_ports)]
    partitions: Annotated[int, Field(ge=1, le=1024)]
    replication_factor: Annotated[int, Field(ge=1, le=16)]
    topics: TopicsConfig
    consumer: tuple[tuple[str, str], ...] = ()  # Kafka consumer settings for Spark's source
    security: KafkaSecurityConfig = KafkaSecurityConfig()

    def client_settings(self) -> dict[str, str]:
        """bootstrap.servers and security settings for a confluent-kafka client."""
        return {"bootstrap.servers": self.bootstrap_servers, **self.security.librdkafka_settings()}

    def spark_options(self) -> dict[str, str]:
        """kafka.bootstrap.servers and security properties for Spark's Kafka source and sink."""
        return {"kafka.bootstrap.servers": self.bootstrap_servers,
                **{f"kafka.{name}": value for name, value in self.security.java_client_properties().items()}}

    @field_validator("consumer", mode="before")
    @classmethod
    def _consumer_settings(cls, value: Any) -> Any:
        """A mapping of consumer properties that Spark's source lets you set, as sorted pairs."""
        if not isinstance(value, Mapping):
            return value
        for name in value:
            if not re.match(r"^[a-z][a-z0-9.]*$", str(name)) or name in SOURCE_OWNED:
                raise ValueError(f"{name}: not a Kafka consumer property that Spark's source lets you set "
                                 f"(not one of {', '.join(SOURCE_OWNED)})")
        return tuple((str(name), str(setting)) for name, setting in sorted(value.items()))

    @property
    def bootstrap_host_ports(self) -> list[tuple[str, int]]:
        pairs = []
        for item in self.bootstrap_servers.split(","):
            host, _, port = item.rpartition(":")
            pairs.append((host, int(port)))
        return pairs


@dataclass(**FROZEN)
class MySqlConfig:
    flavor: Literal["mariadb", "mysql"]
    host: Annotated[str, Field(min_length=1)]
    port: Port
    database: Identifier
    user: Identifier
    password_file: ProjectPath  # read when no password is set (the local MariaDB writes it)
    jdbc_batch_size: Annotated[int, Field(ge=1, le=1_000_000)]
    password: SecretStr | None = None  # MYSQL_PASSWORD
    # A frozen server or a half-open connection fails the call (an outage: the job restarts)
    # instead of hanging the stream for good.
    connect_timeout_s: Annotated[int, Field(ge=1, le=3600)] = 10
    read_timeout_s: Annotated[int, Field(ge=1, le=86_400)] = 120
    write_timeout_s: Annotated[int, Field(ge=1, le=86_400)] = 120
    # The dashboard's account: SELECT only (the job's may write).
    reader_user: Identifier = "payments_reader"
    reader_password_file: ProjectPath = Field(Path("state/secrets/mysql-reader-password"), validate_default=True)
    reader_password: SecretStr | None = None  # MYSQL_READER_PASSWORD
    tls: MySqlTlsConfig = MySqlTlsConfig()

    @model_validator(mode="after")
    def _tls_driver(self) -> MySqlConfig:
        if self.flavor == "mysql" and self.tls.mode != "disabled":
            raise ValueError("mysql.tls is wired for the MariaDB JDBC driver (flavor: mariadb), which also speaks "
                             "to MySQL servers; with flavor mysql, TLS is not configured")
        return self

    def as_reader(self) -> MySqlConfig:
        """This config with the read-only account as its user (for the dashboard)."""
        password = self.reader_password
        if password is None:
            try:
                password = SecretStr(self.reader_password_file.read_text(encoding="utf-8").strip())
            except FileNotFoundError:
                raise ConfigError("mysql.reader_password_file", str(self.reader_password_file),
                                  "file not found; set MYSQL_READER_PASSWORD, or start the local MariaDB "
                                  "(make services-up) which writes it") from None
        return replace(self, user=self.reader_user, password=password)

    def secret(self) -> SecretStr:
        """The password: MYSQL_PASSWORD, else the password file's first line."""
        if self.password is not None:
            return self.password
        try:
            return SecretStr(self.password_file.read_text(encoding="utf-8").strip())
        except FileNotFoundError:
            raise ConfigError("mysql.password_file", str(self.password_file),
                              "file not found; set MYSQL_PASSWORD, or start the local MariaDB "
                              "(make services-up) which writes it") from None

    @property
    def jdbc_url(self) -> str:
        """JDBC URL with the bulk-insert option measured fastest for each server.

        Always the jdbc:mysql scheme, so Spark picks its MySQL dialect (backquoted names);
        MariaDB Connector/J accepts it with permitMysqlScheme.
        """
        timeouts = (f"connectTimeout={self.connect_timeout_s * 1000}&socketTimeout={self.read_timeout_s * 1000}"
                    f"&sessionVariables=sql_mode={STRICT_SQL_MODE}")
        if self.flavor == "mariadb":
            return (f"jdbc:mysql://{self.host}:{self.port}/{self.database}"
                    f"?permitMysqlScheme=true&useBulkStmts=true&{timeouts}{self._jdbc_tls()}")
        return (f"jdbc:mysql://{self.host}:{self.port}/{self.database}"
                f"?rewriteBatchedStatements=true&useSSL=false&allowPublicKeyRetrieval=true&{timeouts}")

    def _jdbc_tls(self) -> str:
        """MariaDB Connector/J's TLS options: the server verified against the CA file."""
        if self.tls.mode == "disabled":
            return ""
        mode = "verify-full" if self.tls.mode == "verify_full" else "verify-ca"
        return f"&sslMode={mode}&serverSslCert={self.tls.ca_file}"

    @property
    def jdbc_driver(self) -> str:
        return "org.mariadb.jdbc.Driver" if self.flavor == "mariadb" else "com.mysql.cj.jdbc.Driver"


def _checkpoint_location(value: Any) -> Any:
    """A Hadoop URI (hdfs://, s3a://, abfs://, file://) as given; a plain path from the project root."""
    text = str(value)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*://", text):
        return text
    return _project_path(Path(text))


@dataclass(**FROZEN)
class StreamConfig:
    starting_offsets: Literal["earliest", "latest"]
    max_offsets_per_trigger: Annotated[int, Field(ge=1, le=100_000_000)]
    trigger_interval: Duration
    checkpoint_location: Path | str  # a local folder, or a Hadoop URI (hdfs://, s3a://, abfs://)
    shuffle_partitions: Annotated[int, Field(ge=1, le=10_000)]  # the state's partitions: fixed per checkpoint
    restart_backoff_max_seconds: Annotated[int, Field(ge=1, le=3600)] = 30  # longest wait between restarts
    restart_give_up_seconds: Annotated[int, Field(ge=0, le=7 * 86400)] = 900  # without a committed batch

    @field_validator("checkpoint_location", mode="before")
    @classmethod
    def _location(cls, value: Any) -> Any:
        if value is None or str(value).strip() == "":
            raise ValueError("required")
        return _checkpoint_location(value)


@dataclass(**FROZEN)
class SparkConfig:
    master: Annotated[str, Field(min_length=1)]
    driver_memory: JvmSize
    ui_enabled: bool


@dataclass(**FROZEN)
class LocalServicesConfig:
    state_dir: ProjectPath
    kafka_controller_port: Port
    kafka_heap: JvmSize
    start_timeout_seconds: Annotated[int, Field(ge=1, le=3600)]
    kafka_ssl_port: Port = 9094        # the local broker's TLS listener
    kafka_sasl_ssl_port: Port = 9095   # and its SASL (PLAIN) over TLS listener


@dataclass(**FROZEN)
class ModelConfig:
    # The champion while the model registry is empty (python -m model promote sets another).
    artifact: Annotated[str, Field(min_length=1)]
    # The versions the registry may name: one folder each (model.joblib, metadata.json).
    artifacts_dir: ProjectPath = Field(Path("model/artifacts"), validate_default=True)
    # Each alert's top three feature contributions (tree SHAP, udfs/explain.py): about 6 ms of a
    # core per alert with the default forest; false leaves top_features NULL.
    explain_alerts: bool = True

    def artifact_dir(self) -> Path:
        """The artifact folder: model/CURRENT's version, a version name, or a path."""
        if self.artifact == "current":
            current = PROJECT_ROOT / "model" / "CURRENT"
            if not current.exists():
                raise ConfigError("model.artifact", self.artifact, f"{current} is missing; train a model first")
            return self.artifacts_dir / current.read_text(encoding="utf-8").strip()
        candidate = Path(self.artifact)
        if candidate.is_absolute() or "/" in self.artifact:
            return candidate if candidate.is_absolute() else PROJECT_ROOT / candidate
        return self.artifacts_dir / self.artifact


@dataclass(**FROZEN)
class LabelWriterConfig:
    """The Kafka account the dashboard sends analysts' labels with: the broker lets it write the
    labels topic and nothing else. Its password: DASHBOARD_KAFKA_PASSWORD or sasl_password_file."""

    bootstrap_servers: Annotated[str, AfterValidator(_host_ports)] = "127.0.0.1:9095"
    protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL"] = "SASL_SSL"
    ca_file: ProjectPath | None = Field(Path("state/tls/ca.pem"), validate_default=True)  # checked when used
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    sasl_username: str = "payscore_labels"
    sasl_password: SecretStr | None = None
    sasl_password_file: ProjectPath | None = Field(Path("state/secrets/kafka-labels-password"), validate_default=True)

    def client_settings(self) -> dict[str, str]:
        """confluent-kafka settings of this account (the CA file and password are read now)."""
        if self.sasl_password is None and self.protocol == "SASL_SSL" and not self.sasl_password_file.is_file():
            raise ConfigError("dashboard.label_writer.sasl_password_file", str(self.sasl_password_file),
                              "file not found; set DASHBOARD_KAFKA_PASSWORD (make services-up writes the local one)")
        security = KafkaSecurityConfig(protocol=self.protocol, ca_file=self.ca_file, sasl_mechanism=self.sasl_mechanism,
                                       sasl_username=self.sasl_username, sasl_password=self.sasl_password,
                                       sasl_password_file=self.sasl_password_file)
        return {"bootstrap.servers": self.bootstrap_servers, **security.librdkafka_settings()}


@dataclass(**FROZEN)
class DashboardConfig:
    host: str = "127.0.0.1"
    port: Port = 8501
    refresh_seconds: Annotated[int, Field(ge=1, le=3600)] = 5  # each view reloads its figures this often
    window_minutes: Annotated[int, Field(ge=1, le=7 * 1440)] = 60  # default time range of the views
    # Who may log in to label alerts: streamlit-authenticator's credentials, bcrypt hashes only
    # (python -m dashboard.users add NAME); the login cookie is signed with cookie_key_file's key.
    users_file: ProjectPath = Field(Path("state/secrets/dashboard-users.yaml"), validate_default=True)
    cookie_key_file: ProjectPath = Field(Path("state/secrets/dashboard-cookie-key"), validate_default=True)
    label_writer: LabelWriterConfig = LabelWriterConfig()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass(**FROZEN)
class FeatureConfig:
    customer_windows_days: tuple[Annotated[int, Field(ge=1, le=365)], ...] = Field((1, 7, 30), min_length=1)
    burst_windows_minutes: tuple[Annotated[int, Field(ge=1, le=1440)], ...] = Field((10, 60), min_length=1)
    terminal_windows_days: tuple[Annotated[int, Field(ge=1, le=365)], ...] = Field((1, 7, 30), min_length=1)
    label_delay_days: Annotated[int, Field(ge=0, le=365)] = 7
    allowed_lateness_hours: Annotated[int, Field(ge=0, le=24 * 90)] = 24  # the event-time watermark's delay

    @property
    def label_delay_us(self) -> int:
        return self.label_delay_days * MICROS_PER_DAY


@dataclass(**FROZEN)
class DecisionRule:
    id: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,31}$", description="an upper-case id, A-Z0-9_")]
    when: Annotated[str, Field(min_length=1)]
    action: Literal["REVIEW", "DECLINED"]
    description: Annotated[str, Field(min_length=1)]


def _threshold(value: Any) -> Any:
    """'model' (the threshold chosen at training, in the model's metadata) is None; else a number."""
    if value is None or value == "model":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError("must be 'model' or a number in 0..1") from None
    if not 0 <= number <= 1:
        raise ValueError("must be 'model' or a number in 0..1")
    return number


Threshold = Annotated[float | None, BeforeValidator(_threshold)]


@dataclass(**FROZEN)
class ScoreBandsConfig:
    review: Threshold = None   # None: the model's own (its metadata)
    decline: Threshold = None


@dataclass(**FROZEN)
class DecisionsConfig:
    score_bands: ScoreBandsConfig = ScoreBandsConfig()
    rules: tuple[DecisionRule, ...] = ()

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: tuple[DecisionRule, ...]) -> tuple[DecisionRule, ...]:
        ids = [rule.id for rule in rules]
        duplicated = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
        if duplicated:
            raise ValueError(f"rule ids must be unique: {', '.join(duplicated)} repeated")
        return rules

    @property
    def review_threshold(self) -> float | None:
        return self.score_bands.review

    @property
    def decline_threshold(self) -> float | None:
        return self.score_bands.decline


@dataclass(**FROZEN)
class ContractConfig:
    event_time_future_minutes: Annotated[int, Field(ge=1, le=7 * 1440)] = 60  # after the Kafka timestamp
    event_time_past_days: Annotated[int, Field(ge=1, le=36500)] = 3650       # before it


@dataclass(**FROZEN)
class RatesVersion:
    """One version of the exchange-rate table: from when it holds, and for each currency how many
    units of the base currency one unit of it is worth. A currency it does not list is not
    convertible while it holds."""

    version: Annotated[str, Field(min_length=1, max_length=32)]
    effective_from: datetime
    rates: dict[Annotated[str, Field(pattern=r"^[A-Z]{3}$")], Annotated[Decimal, Field(gt=0, max_digits=20,
                                                                                        decimal_places=10)]]

    @field_validator("effective_from")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must have a time zone (e.g. 2025-01-01T00:00:00Z)")
        return value


def _read_rates_file(values: Any) -> Any:
    """Fill `versions` from `rates_file` (YAML: versions: [...]) unless given inline."""
    if isinstance(values, ArgsKwargs) and not values.args:
        return ArgsKwargs((), _read_rates_file(dict(values.kwargs or {})))
    if isinstance(values, dict) and "versions" not in values:
        import yaml

        path = _project_path(Path(values.get("rates_file", DEFAULT_RATES_FILE)))
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ValueError(f"rates file {path} not found") from None
        return {**values, "versions": document.get("versions") or ()}
    return values


@dataclass(**FROZEN)
class CurrencyConfig:
    """The base currency features and rules see amounts in, and the versioned rates into it."""

    base: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "EUR"
    rates_file: ProjectPath = Field(Path("conf/currency_rates.yaml"), validate_default=True)
    versions: tuple[RatesVersion, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _load_versions(cls, values: Any) -> Any:
        return _read_rates_file(values)

    @model_validator(mode="after")
    def _consistent(self) -> CurrencyConfig:
        from core.currencies import ISO_4217_CODES, minor_units

        if self.base not in ISO_4217_CODES or minor_units(self.base) > 2:
            raise ValueError(f"base {self.base} must be an ISO 4217 code with at most 2 decimals (features add "
                             "amounts in its cents)")
        if not self.versions:
            raise ValueError(f"{self.rates_file} holds no rate versions")
        starts = [version.effective_from for version in self.versions]
        if starts != sorted(set(starts)):
            raise ValueError("rate versions must be in order of effective_from, each from a later time")
        for version in self.versions:
            unknown = sorted(set(version.rates) - ISO_4217_CODES)
            if unknown or version.rates.get(self.base) != 1:
                raise ValueError(f"rates version {version.version}: every code must be ISO 4217 (not {unknown}) "
                                 f"and the base {self.base} must have rate 1")
        return self


DEFAULT_RATES_FILE = Path("conf/currency_rates.yaml")
_SOURCES: ContextVar[tuple[Path, Mapping[str, str]]] = ContextVar("config_sources")


class DocumentedEnvironment(PydanticBaseSettingsSource):
    """The variables of ENV_OVERRIDES, each onto its key (over the YAML file's value)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]):
        super().__init__(settings_cls)
        self.environ = environ

    def get_field_value(self, field, field_name):  # one call per source, not per field (see __call__)
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, dict[str, str]] = {}
        for variable, (*sections, key) in ENV_OVERRIDES.items():
            if self.environ.get(variable):
                target = values
                for section in sections:
                    target = target.setdefault(section, {})
                target[key] = self.environ[variable]
        return values


class AppConfig(BaseSettings):
    """The whole configuration: conf/payments.yaml (or PAYMENTS_CONFIG) under the environment."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    kafka: KafkaConfig
    mysql: MySqlConfig
    stream: StreamConfig
    spark: SparkConfig
    local_services: LocalServicesConfig
    features: FeatureConfig = FeatureConfig()
    model: ModelConfig
    decisions: DecisionsConfig = DecisionsConfig()
    dashboard: DashboardConfig = DashboardConfig()
    contract: ContractConfig = ContractConfig()
    currency: CurrencyConfig = Field(default_factory=CurrencyConfig)
    source_path: Path

    @model_validator(mode="before")
    @classmethod
    def _sections_may_be_empty(cls, values: Any) -> Any:
        """A section written with no keys (`dashboard:`) takes its defaults."""
        if isinstance(values, dict):
            return {name: ({} if section is None else section) for name, section in values.items()}
        return values

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        path, environ = _SOURCES.get()
        return (init_settings, DocumentedEnvironment(settings_cls, environ),
                YamlConfigSettingsSource(settings_cls, yaml_file=path))


def load_config(path: str | os.PathLike | None = None,
                environ: Mapping[str, str] | None = None) -> AppConfig:
    """Read the YAML file (PAYMENTS_CONFIG or conf/payments.yaml), apply env overrides, validate."""
    environ = os.environ if environ is None else environ
    config_path = Path(path or environ.get("PAYMENTS_CONFIG") or DEFAULT_CONFIG_PATH)
    if not config_path.is_file():
        raise ConfigError("PAYMENTS_CONFIG", str(config_path), "file not found")
    token = _SOURCES.set((config_path, environ))
    try:
        return AppConfig(source_path=config_path)
    except ValidationError as error:
        raise first_problem(error) from None
    finally:
        _SOURCES.reset(token)


def first_problem(error: ValidationError) -> ConfigError:
    """The first validation error as ConfigError: the dotted key, the value, what is allowed."""
    problem = error.errors(include_url=False)[0]
    key = ".".join(str(part) for part in problem["loc"] if not str(part).startswith(("function-", "lax-")))
    value = problem.get("input")
    if problem["type"] == "missing" or value in ("", None):
        return ConfigError(key, None, "required")
    message = problem["msg"].removeprefix("Value error, ")
    pattern = (problem.get("ctx") or {}).get("pattern")
    described = f"{message} ({pattern})" if pattern and pattern not in message else message
    return ConfigError(key, value if isinstance(value, (str, int, float, bool)) else str(value), described)


def describe(config: AppConfig) -> dict:
    """A loggable dict of the config; secrets stay masked."""
    return config.model_dump(mode="json")
