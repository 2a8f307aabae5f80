"""Create the project's Kafka topics idempotently."""
from __future__ import annotations

import logging

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from core.config import KafkaConfig

log = logging.getLogger(__name__)


def project_topics(kafka: KafkaConfig) -> list[str]:
    topics = kafka.topics
    return [topics.payments, topics.dlq, topics.alerts, topics.labels]


def ensure_topics(kafka: KafkaConfig, names: list[str] | None = None,
                  partitions: int | None = None) -> list[str]:
    """Create each missing topic; existing ones are left as they are. Returns those created."""
    admin = AdminClient(kafka.client_settings())
    wanted = names or project_topics(kafka)
    existing = set(admin.list_topics(timeout=10).topics)
    missing = [name for name in wanted if name not in existing]
    if not missing:
        return []
    new_topics = [NewTopic(name, partitions or kafka.partitions, kafka.replication_factor)
                  for name in missing]
    for future in admin.create_topics(new_topics, operation_timeout=30).values():
        try:
            future.result()
        except KafkaException as error:
            if "TOPIC_ALREADY_EXISTS" not in str(error):
                raise
    log.info("created Kafka topics %s", ", ".join(missing))
    return missing


def delete_topics(kafka: KafkaConfig, names: list[str]) -> None:
    """Delete topics made for a one-off run; one that cannot be deleted is logged and left."""
    admin = AdminClient(kafka.client_settings())
    for name, future in admin.delete_topics(names, operation_timeout=30).items():
        try:
            future.result()
        except KafkaException as error:
            log.warning("could not delete Kafka topic %s: %s", name, error)
