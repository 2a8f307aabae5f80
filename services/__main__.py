"""Manage the local services: python -m services {up,down,reset,status,migrate,topics}."""
from __future__ import annotations

import argparse
import logging
import shutil
import sys

from core.config import ConfigError, load_config
from core.logs import configure_logging
from dashboard.users import ensure_local_analyst
from services.dashboard_server import DashboardServer
from services.grants import migrate_and_grant
from services.jvm_archive import ensure_jvm_archive
from services.kafka_acls import allow_label_writer
from services.kafka_broker import KafkaBroker
from services.mariadb_server import MariaDbServer
from services.migrations import MigrationError
from services.processes import ServiceError
from services.spark_cluster import SparkCluster
from services.topics import ensure_topics

log = logging.getLogger("services")


def stop_all(config, broker: KafkaBroker, database: MariaDbServer) -> None:
    """Everything the project starts on this machine: dashboard, Spark cluster, broker, database
    (a cluster left running would hold its ports against another checkout's tests)."""
    for service in (DashboardServer.from_config(config), SparkCluster.from_config(config), broker, database):
        stopped = service.stop()
        log.info("%s %s", type(service).__name__, "stopped" if stopped else "was not running")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services",
                                     description="Local Kafka broker and MariaDB for development and tests.")
    parser.add_argument("command", choices=("up", "down", "reset", "status", "migrate", "topics",
                                            "cluster-up", "cluster-down", "dashboard-up", "dashboard-down"),
                        help="up: start both (idempotent), create topics, apply migrations, build the driver JVM's "
                             "class-data-sharing archive once (services/jvm_archive.py); "
                             "down: stop them, the dashboard and a local Spark cluster, keep data; "
                             "reset: stop all and wipe all local data; "
                             "status: show what runs; migrate / topics: only that step; "
                             "cluster-up / cluster-down: a local Spark standalone cluster (master + 2 workers); "
                             "dashboard-up / dashboard-down: the monitoring dashboard (Streamlit)")
    args = parser.parse_args(argv)
    configure_logging()
    try:
        config = load_config()
        broker, database = KafkaBroker.from_config(config), MariaDbServer.from_config(config)
        if args.command == "up":
            broker.start()
            database.start()
            ensure_topics(config.kafka)
            allow_label_writer(config)
            migrate_and_grant(config)
            ensure_local_analyst(config)
            ensure_jvm_archive(config)
            log.info("services ready: Kafka %s, MariaDB %s:%s/%s", broker.bootstrap,
                     database.host, database.port, database.database)
        elif args.command == "down":
            stop_all(config, broker, database)
        elif args.command == "reset":
            stop_all(config, broker, database)
            shutil.rmtree(config.local_services.state_dir, ignore_errors=True)
            log.info("wiped %s", config.local_services.state_dir)
        elif args.command == "status":
            log.info("Kafka broker: %s", "running" if broker.is_running() else "stopped")
            log.info("MariaDB: %s", "running" if database.is_running() else "stopped")
            dashboard = DashboardServer.from_config(config)
            log.info("dashboard: %s", f"running at {dashboard.url}" if dashboard.answers() else "stopped")
        elif args.command == "migrate":
            migrate_and_grant(config)
        elif args.command == "topics":
            ensure_topics(config.kafka)
        elif args.command == "cluster-up":
            SparkCluster.from_config(config).start()
        elif args.command == "dashboard-up":
            DashboardServer.from_config(config).start()
        elif args.command == "dashboard-down":
            log.info("dashboard %s", "stopped" if DashboardServer.from_config(config).stop() else "was not running")
        elif args.command == "cluster-down":
            log.info("Spark cluster %s", "stopped" if SparkCluster.from_config(config).stop() else "was not running")
    except (ConfigError, ServiceError, MigrationError) as error:
        log.error("%s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
