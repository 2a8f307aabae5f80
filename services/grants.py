"""Least privilege: what the job's account and the dashboard's account may do, table by table.

The job appends rows, deletes an uncommitted attempt's rows when a batch is replayed, and
marks alerts and dead letters published; it can never change the ledger's past rows
(stream_batches: insert and read only) nor the migrations table, create or drop anything.
The dashboard's account only reads. Applied after the migrations by an account that may
grant (the local MariaDB's root; MYSQL_ADMIN_USER in docker-compose's migrate service).
"""
from __future__ import annotations

import logging
import os
from dataclasses import replace

import pymysql

from core.config import AppConfig, MySqlConfig
from services.migrations import apply_migrations
from sinks.mysql_connection import admin_credentials, connect

log = logging.getLogger(__name__)

JOB_TABLE_PRIVILEGES = {
    "scored_transactions": "SELECT, INSERT, DELETE",
    "fraud_labels": "SELECT, INSERT, DELETE",
    "current_fraud_labels": "SELECT",  # a view
    "rejected_payments": "SELECT, INSERT, DELETE, UPDATE (published_at)",
    "payment_alerts": "SELECT, INSERT, UPDATE (published_at)",
    "stream_batches": "SELECT, INSERT",
    "stream_checkpoints": "SELECT, INSERT, UPDATE",
    "schema_migrations": "SELECT",
    # The job reads the champion and shadow before each batch; `python -m model` (same account)
    # appends changes; nobody rewrites the history.
    "model_registry": "SELECT, INSERT",
}
NO_SUCH_GRANT = 1141


def account_hosts(cursor, user: str) -> list[str]:
    cursor.execute("SELECT Host FROM mysql.user WHERE User = %s ORDER BY Host", (user,))
    return [row[0] for row in cursor.fetchall()]


def revoke_database_wide(cursor, database: str, user: str, host: str) -> None:
    """Drop a database-wide grant (the MySQL image gives MYSQL_USER all privileges on its database)."""
    try:
        cursor.execute(f"REVOKE ALL PRIVILEGES ON `{database}`.* FROM %s@%s", (user, host))
    except pymysql.err.OperationalError as error:
        if error.args[0] != NO_SUCH_GRANT:
            raise


def revoke_table_grants(cursor, database: str, user: str, host: str) -> None:
    """Drop the account's table grants in the database, so that the ones given are all it has."""
    cursor.execute("SELECT Table_name FROM mysql.tables_priv WHERE Db = %s AND User = %s AND Host = %s",
                   (database, user, host))
    for (table,) in cursor.fetchall():
        cursor.execute(f"REVOKE ALL PRIVILEGES ON `{database}`.`{table}` FROM %s@%s", (user, host))


def grant_least_privilege(connection: pymysql.connections.Connection, mysql: MySqlConfig) -> None:
    """The job's account gets JOB_TABLE_PRIVILEGES, the reader's SELECT on the database: nothing else
    in it. Accounts are found by name in mysql.user (every host they are defined for)."""
    database = mysql.database
    with connection.cursor() as cursor:
        job_hosts, reader_hosts = account_hosts(cursor, mysql.user), account_hosts(cursor, mysql.reader_user)
        if not job_hosts:
            raise RuntimeError(f"no account {mysql.user!r} to grant the job's privileges to")
        for host in job_hosts:
            revoke_database_wide(cursor, database, mysql.user, host)
            revoke_table_grants(cursor, database, mysql.user, host)
            for table, privileges in JOB_TABLE_PRIVILEGES.items():
                cursor.execute(f"GRANT {privileges} ON `{database}`.`{table}` TO %s@%s", (mysql.user, host))
        for host in reader_hosts:
            revoke_database_wide(cursor, database, mysql.reader_user, host)
            revoke_table_grants(cursor, database, mysql.reader_user, host)
            cursor.execute(f"GRANT SELECT ON `{database}`.* TO %s@%s", (mysql.reader_user, host))
    log.info("privileges: %s@%s may %s; %s@%s may read", mysql.user, ",".join(job_hosts),
             "; ".join(f"{table}: {privileges}" for table, privileges in JOB_TABLE_PRIVILEGES.items()),
             mysql.reader_user, ",".join(reader_hosts) or "(no such account)")


def ensure_reader_account(connection: pymysql.connections.Connection, mysql: MySqlConfig) -> None:
    """Create the reader's account (any host) when it does not exist and its password is given
    (docker-compose; the local MariaDB creates its own for localhost)."""
    with connection.cursor() as cursor:
        if account_hosts(cursor, mysql.reader_user) or (mysql.reader_password is None
                                                        and not mysql.reader_password_file.exists()):
            return
        password = mysql.as_reader().password.get_secret_value()
        cursor.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (mysql.reader_user, password))


def local_server(config: AppConfig):
    """The local MariaDB (services/mariadb_server.py), unless MYSQL_ADMIN_USER names another admin."""
    if os.environ.get("MYSQL_ADMIN_USER"):
        return None
    from services.mariadb_server import MariaDbServer

    return MariaDbServer.from_config(config)


def granting_connection(config: AppConfig) -> pymysql.connections.Connection:
    """An account that may grant: MYSQL_ADMIN_USER when set, else the local MariaDB's root."""
    server = local_server(config)
    if server is not None:
        return server.root_connection()
    user, password = admin_credentials(config.mysql)
    return connect(config.mysql, user=user, password=password, autocommit=True)


def migrate_and_grant(config: AppConfig, mysql: MySqlConfig | None = None) -> list[str]:
    """Apply pending migrations to the database of `mysql` (default: the config's), then the
    accounts' privileges on it; returns the migrations applied now. Locally, the database and
    its accounts are made first if missing."""
    mysql = mysql or config.mysql
    server = local_server(config)
    if server is not None:
        server.ensure_database(mysql.database)
    applied = apply_migrations(mysql)
    with granting_connection(config) as connection:
        ensure_reader_account(connection, mysql)
        grant_least_privilege(connection, mysql)
    return applied


def side_database(config: AppConfig, name: str, empty: bool) -> AppConfig:
    """The config pointed at another database on the local server (a benchmark's, the JVM
    archive run's): created if missing, dropped first when `empty`, migrated and granted."""
    from services.mariadb_server import MariaDbServer

    server = MariaDbServer.from_config(config)
    if empty:
        server.drop_database(name)
    server.ensure_database(name)
    side = config.model_copy(update={"mysql": replace(config.mysql, database=name)})
    migrate_and_grant(config, side.mysql)
    return side
