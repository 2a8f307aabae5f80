"""A single-node Apache Kafka 4 broker in KRaft mode, run from the Maven-resolved jars."""
from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from core.config import PROJECT_ROOT, AppConfig
from services.processes import (
    ServiceError,
    read_or_create_secret,
    read_pid,
    require_free_port,
    spawn_detached,
    stop_process,
    wait_until,
)
from services.tls import LocalCertificates

log = logging.getLogger(__name__)

KAFKA_JARS = PROJECT_ROOT / ".deps" / "kafka-broker"
HEALTH_TOPIC = "payscore-healthcheck"


@dataclass(frozen=True)
class KafkaBroker:
    """Paths and ports of the local broker; methods start, check and stop it. Besides PLAINTEXT
    it listens with TLS (SSL) and SASL PLAIN over TLS (SASL_SSL), with the local certificates
    (services/tls.py) and two SASL users whose passwords are in state/secrets/: the job's (a super
    user, as PLAINTEXT and SSL clients are) and the dashboard's label writer, which the broker's
    ACLs let write the labels topic only (services/kafka_acls.py)."""

    host: str
    port: int
    controller_port: int
    ssl_port: int
    sasl_ssl_port: int
    heap: str
    home: Path
    certificates: LocalCertificates
    start_timeout_seconds: int
    label_writer: str = "payscore_labels"
    label_writer_password_file: Path | None = None
    sasl_user: str = "payscore"

    @classmethod
    def from_config(cls, config: AppConfig) -> KafkaBroker:
        host, port = config.kafka.bootstrap_host_ports[0]
        local = config.local_services
        return cls(host=host, port=port, controller_port=local.kafka_controller_port, ssl_port=local.kafka_ssl_port,
                   sasl_ssl_port=local.kafka_sasl_ssl_port, heap=local.kafka_heap, home=local.state_dir / "kafka",
                   certificates=LocalCertificates(local.state_dir / "tls"),
                   start_timeout_seconds=local.start_timeout_seconds,
                   label_writer=config.dashboard.label_writer.sasl_username,
                   label_writer_password_file=config.dashboard.label_writer.sasl_password_file)

    @property
    def sasl_password_file(self) -> Path:
        return self.home.parent / "secrets" / "kafka-sasl-password"

    def sasl_password(self) -> str:
        return read_or_create_secret(self.sasl_password_file)

    def label_writer_password(self) -> str:
        return read_or_create_secret(self.label_writer_password_file or self.home.parent / "secrets"
                                     / "kafka-labels-password")

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.home / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "server.log"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    def is_running(self) -> bool:
        return read_pid(self.pid_file) is not None

    def start(self) -> None:
        """Start (formatting storage on first start) and wait for a produce/consume round trip."""
        if self.is_running():
            log.info("Kafka broker already running (pid %s), reusing it", read_pid(self.pid_file))
            self.wait_ready()
            return
        _require_java()
        if not any(KAFKA_JARS.glob("kafka_*.jar")):
            raise ServiceError(f"Kafka jars missing in {KAFKA_JARS}; run `make setup` first")
        require_free_port(self.host, self.port, "Kafka broker", "KAFKA_BOOTSTRAP_SERVERS")
        require_free_port(self.host, self.controller_port, "Kafka controller",
                          "local_services.kafka_controller_port")
        require_free_port(self.host, self.ssl_port, "Kafka TLS listener", "local_services.kafka_ssl_port")
        require_free_port(self.host, self.sasl_ssl_port, "Kafka SASL_SSL listener",
                          "local_services.kafka_sasl_ssl_port")
        self.certificates.ensure()
        self._write_config()
        if not (self.data_dir / "meta.properties").exists():
            self._format_storage()
        spawn_detached(self._java_command("kafka.Kafka", str(self.home / "server.properties")),
                       self.home / "logs" / "stdout.log", self.pid_file)
        log.info("Kafka broker starting on %s (logs: %s)", self.bootstrap, self.log_file)
        self.wait_ready()

    def wait_ready(self) -> None:
        wait_until(self._round_trip, self.start_timeout_seconds,
                   f"Kafka broker on {self.bootstrap}", self.log_file, self.pid_file)

    def stop(self) -> bool:
        return stop_process(self.pid_file, "Kafka broker", timeout_seconds=90)

    def _java_command(self, main_class: str, *args: str) -> list[str]:
        return [
            "java", f"-Xmx{self.heap}", f"-Xms{self.heap}", "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.home / 'logs'}",
            "-cp", f"{KAFKA_JARS}/*", main_class, *args,
        ]

    def _format_storage(self) -> None:
        cluster_id = _kafka_cluster_id()
        result = subprocess.run(
            self._java_command("kafka.tools.StorageTool", "format", "-t", cluster_id,
                               "-c", str(self.home / "server.properties")),
            capture_output=True, text=True, timeout=120,
        )
        if result.returncode != 0:
            raise ServiceError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")

    def _write_config(self) -> None:
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        properties = self.home / "server.properties"
        properties.write_text(_server_properties(self))
        properties.chmod(0o600)  # it holds the keystore and SASL passwords
        (self.home / "log4j2.properties").write_text(_log4j2_properties(self.home / "logs"))

    def _round_trip(self) -> bool:
        """Produce a unique message to the health topic and consume it back."""
        if not _accepts_connections(self.host, self.port):
            return False
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        if HEALTH_TOPIC not in admin.list_topics(timeout=5).topics:
            futures = admin.create_topics([NewTopic(HEALTH_TOPIC, 1, 1)])
            try:
                futures[HEALTH_TOPIC].result(timeout=10)
            except KafkaException as error:
                if "TOPIC_ALREADY_EXISTS" not in str(error):
                    raise
        token = uuid.uuid4().hex.encode()
        delivered: list = []
        producer = Producer({"bootstrap.servers": self.bootstrap})
        producer.produce(HEALTH_TOPIC, value=token, on_delivery=lambda error, message: delivered.append(
            None if error else (message.partition(), message.offset())))
        if producer.flush(10) != 0 or not delivered or delivered[0] is None:
            return False
        partition, offset = delivered[0]
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "payscore-healthcheck",
                             "enable.auto.commit": False})
        try:  # read back exactly the offset just written (no group join, however long the topic)
            consumer.assign([TopicPartition(HEALTH_TOPIC, partition, offset)])
            for _ in range(20):
                message = consumer.poll(0.5)
                if message is not None and not message.error():
                    return message.value() == token
            return False
        finally:
            consumer.close()


def _accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _require_java() -> None:
    if shutil.which("java") is None:
        raise ServiceError("java not found on PATH; the Kafka broker needs Java 17 or newer")


def _kafka_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding, never starting with
    '-' (the storage tool would read it as an option: 1 start in 64 failed so, as Kafka's own
    Uuid.randomUuid avoids)."""
    import base64
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _server_properties(broker: KafkaBroker) -> str:
    return "\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@{broker.host}:{broker.controller_port}",
        f"listeners={_listeners(broker)},CONTROLLER://{broker.host}:{broker.controller_port}",
        f"advertised.listeners={_listeners(broker)}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
        "ssl.keystore.type=PKCS12",
        f"ssl.keystore.location={broker.certificates.keystore}",
        f"ssl.keystore.password={broker.certificates.keystore_password()}",
        "sasl.enabled.mechanisms=PLAIN",
        "listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule "
        f'required user_{broker.sasl_user}="{broker.sasl_password()}" '
        f'user_{broker.label_writer}="{broker.label_writer_password()}";',
        # ACLs bind the label writer; every other client (PLAINTEXT and SSL: ANONYMOUS) is a super user.
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        f"super.users=User:ANONYMOUS;User:{broker.sasl_user}",
        "allow.everyone.if.no.acl.found=false",
        f"log.dirs={broker.data_dir}",
        "num.partitions=4",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=4",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        "log.retention.hours=168",
        "message.max.bytes=10485760",
        "auto.create.topics.enable=false",
        "",
    ])


def _listeners(broker: KafkaBroker) -> str:
    return (f"PLAINTEXT://{broker.host}:{broker.port},SSL://{broker.host}:{broker.ssl_port},"
            f"SASL_SSL://{broker.host}:{broker.sasl_ssl_port}")


def _log4j2_properties(log_dir: Path) -> str:
    return "\n".join([
        "status = warn",
        "appender.file.type = RollingFile",
        "appender.file.name = file",
        f"appender.file.fileName = {log_dir}/server.log",
        f"appender.file.filePattern = {log_dir}/server.log.%i",
        "appender.file.layout.type = PatternLayout",
        "appender.file.layout.pattern = [%d] %p %m (%c)%n",
        "appender.file.policies.type = Policies",
        "appender.file.policies.size.type = SizeBasedTriggeringPolicy",
        "appender.file.policies.size.size = 50MB",
        "appender.file.strategy.type = DefaultRolloverStrategy",
        "appender.file.strategy.max = 3",
        "rootLogger.level = INFO",
        "rootLogger.appenderRef.file.ref = file",
        "",
    ])
