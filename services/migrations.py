"""Apply sql/migrations/NNN_*.sql in order, once each, recording them in schema_migrations."""
from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

from core.config import MySqlConfig
from sinks.mysql_connection import admin_credentials, connect, split_script, sql_path

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")

CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
  version     INT          NOT NULL PRIMARY KEY,
  name        VARCHAR(255) NOT NULL,
  checksum    CHAR(64)     NOT NULL,
  applied_at  DATETIME(6)  NOT NULL
) ENGINE=InnoDB
"""


class MigrationError(RuntimeError):
    """A migration failed or was changed after it was applied."""


def migration_files(folder: Path | None = None) -> list[tuple[int, Path]]:
    """(version, path) of each migration, by version; a badly named file is an error."""
    folder = folder or sql_path("migrations")
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files must be named NNN_lower_snake.sql")
        found.append((int(match.group(1)), path))
    versions = [version for version, _ in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a version in {folder}")
    return found


def apply_migrations(mysql: MySqlConfig, folder: Path | None = None) -> list[str]:
    """Apply the pending migrations; returns their file names. Safe to run again."""
    user, password = admin_credentials(mysql)
    applied_now = []
    with connect(mysql, user=user, password=password, autocommit=True) as connection:
        with connection.cursor() as cursor:
            cursor.execute(CREATE_LEDGER)
            cursor.execute("SELECT version, checksum FROM schema_migrations")
            applied = dict(cursor.fetchall())
            for version, path in migration_files(folder):
                text = path.read_text(encoding="utf-8")
                checksum = hashlib.sha256(text.encode()).hexdigest()
                if version in applied:
                    if applied[version] != checksum:
                        raise MigrationError(f"{path.name} changed after it was applied; "
                                             "add a new migration instead of editing it")
                    continue
                for statement in split_script(text):
                    try:
                        cursor.execute(statement)
                    except Exception as error:
                        raise MigrationError(f"{path.name} failed: {error}") from error
                cursor.execute(
                    "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                    "VALUES (%s, %s, %s, UTC_TIMESTAMP(6))", (version, path.name, checksum))
                applied_now.append(path.name)
                log.info("applied migration %s", path.name)
    return applied_now
