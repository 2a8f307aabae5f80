"""The broker's ACLs for the dashboard's label writer: it may write the labels topic, nothing else
(the broker's super users are the job's accounts; see services/kafka_broker.py)."""
from __future__ import annotations

import logging
import time

from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from core.config import AppConfig

log = logging.getLogger(__name__)


def label_writer_acl(username: str, topic: str) -> AclBinding:
    """Allow `username` to write (and so describe) exactly `topic`, from any host."""
    return AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, f"User:{username}", "*",
                      AclOperation.WRITE, AclPermissionType.ALLOW)


def allow_label_writer(config: AppConfig, topic: str | None = None) -> None:
    """Let the dashboard's Kafka account write the labels topic (config's, or `topic`); idempotent."""
    username, topic = config.dashboard.label_writer.sasl_username, topic or config.kafka.topics.labels
    admin, binding = AdminClient(config.kafka.client_settings()), label_writer_acl(username, topic)
    for future in admin.create_acls([binding], request_timeout=15).values():
        future.result(timeout=30)
    wait_until_in_force(admin, binding)
    log.info("Kafka ACL: User:%s may write %s (and nothing else)", username, topic)


def wait_until_in_force(admin: AdminClient, binding: AclBinding, timeout_s: float = 30) -> None:
    """The broker applies a created ACL from the metadata log a moment later: wait until it lists it."""
    deadline = time.monotonic() + timeout_s
    pattern = AclBindingFilter(binding.restype, binding.name, binding.resource_pattern_type, binding.principal,
                               binding.host, binding.operation, binding.permission_type)
    while binding not in admin.describe_acls(pattern, request_timeout=10).result(timeout=15):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the broker does not list the ACL {binding} {timeout_s:.0f} s after creating it")
        time.sleep(0.1)
