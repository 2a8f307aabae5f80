"""Driver-side MySQL connections (PyMySQL) and the named SQL statements under sql/."""
from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TypeVar

import pymysql
from pydantic import SecretStr

from core.config import PROJECT_ROOT, STRICT_SQL_MODE, MySqlConfig

SQL_DIR = PROJECT_ROOT / "sql"
_NAMED = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
# MariaDB rolls the transaction back on these; running it again is safe and usually succeeds.
RETRIED_ERRORS = {1205: "lock wait timeout", 1213: "deadlock"}
TRANSACTION_ATTEMPTS = 4
T = TypeVar("T")
log = logging.getLogger(__name__)


def connect_arguments(mysql: MySqlConfig, user: str | None = None, password: SecretStr | None = None,
                      autocommit: bool = False) -> dict:
    """pymysql.connect's arguments: the application user (or the given one), UTC session time
    zone. Plain values, so an executor can open its own connection with them."""
    return {"host": mysql.host, "port": mysql.port, "database": mysql.database, "user": user or mysql.user,
            "password": (password or mysql.secret()).get_secret_value(), "autocommit": autocommit, "charset": "utf8mb4",
            "connect_timeout": mysql.connect_timeout_s, "read_timeout": mysql.read_timeout_s,
            "write_timeout": mysql.write_timeout_s, "init_command": "SET time_zone = '+00:00'",
            "sql_mode": STRICT_SQL_MODE, **tls_arguments(mysql)}


def tls_arguments(mysql: MySqlConfig) -> dict:
    """PyMySQL's TLS arguments: the server verified against mysql.tls.ca_file (and its name, verify_full).
    Disabled means no TLS, as for the JDBC driver: PyMySQL would otherwise encrypt without verifying
    whenever the server offers it (measured here: 45 ms per connection instead of 0.9)."""
    if mysql.tls.mode == "disabled":
        return {"ssl_disabled": True}
    return {"ssl_ca": str(mysql.tls.ca_file), "ssl_verify_cert": True,
            "ssl_verify_identity": mysql.tls.mode == "verify_full"}


def connect(mysql: MySqlConfig, user: str | None = None, password: SecretStr | None = None,
            autocommit: bool = False) -> pymysql.connections.Connection:
    """A connection as the application user (or the given one), UTC session time zone."""
    return pymysql.connect(**connect_arguments(mysql, user, password, autocommit))


def close_quietly(connection: pymysql.connections.Connection | None) -> None:
    """Close a connection that is being dropped, whatever state it is in."""
    if connection is not None:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - already broken; it is being dropped
            pass


class ReusedConnection:
    """One connection kept open across micro-batches: opening one costs a TLS context and a
    handshake (measured ~40 ms, several per batch). After an error it is closed, and the next
    use opens a new one; every use ends its transaction (no stale snapshot between batches)."""

    def __init__(self, mysql: MySqlConfig):
        self.mysql = mysql
        self._connection: pymysql.connections.Connection | None = None

    @contextmanager
    def cursor(self) -> Iterator[pymysql.cursors.Cursor]:
        """A cursor in a transaction committed when the block ends, rolled back if it raises."""
        connection = self._open()
        try:
            with connection.cursor() as cursor:
                yield cursor
            connection.commit()
        except BaseException:
            self.close()
            raise

    def transaction(self, work: Callable[[pymysql.cursors.Cursor], T], what: str) -> T:
        """work(cursor) in one transaction, run again (up to TRANSACTION_ATTEMPTS times, with a
        short backoff) when MariaDB rolls it back for a lock wait timeout or a deadlock."""
        for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
            try:
                with self.cursor() as cursor:
                    return work(cursor)
            except pymysql.err.OperationalError as error:
                code = error.args[0] if error.args else None
                if code not in RETRIED_ERRORS or attempt == TRANSACTION_ATTEMPTS:
                    raise
                log.warning("%s: %s (MySQL error %s), attempt %d of %d; running it again", what,
                            RETRIED_ERRORS[code], code, attempt, TRANSACTION_ATTEMPTS)
                time.sleep(0.05 * 2 ** attempt)
        raise AssertionError("unreachable")

    def close(self) -> None:
        close_quietly(self._connection)
        self._connection = None

    def _open(self) -> pymysql.connections.Connection:
        if self._connection is not None:
            try:
                self._connection.ping(reconnect=False)
            except pymysql.err.Error:  # closed by the server (idle timeout, restart): open another
                self.close()
        if self._connection is None:
            self._connection = connect(self.mysql)
        return self._connection


def admin_credentials(mysql: MySqlConfig) -> tuple[str, SecretStr]:
    """Schema changes run as MYSQL_ADMIN_USER (password from MYSQL_ADMIN_PASSWORD or
    MYSQL_ADMIN_PASSWORD_FILE), else the local admin, else the application user."""
    if os.environ.get("MYSQL_ADMIN_USER"):
        password = os.environ.get("MYSQL_ADMIN_PASSWORD")
        if password is None and os.environ.get("MYSQL_ADMIN_PASSWORD_FILE"):
            password = Path(os.environ["MYSQL_ADMIN_PASSWORD_FILE"]).read_text(encoding="utf-8").strip()
        return os.environ["MYSQL_ADMIN_USER"], SecretStr(password or "")
    local_admin = mysql.password_file.parent / "mysql-admin-password"
    if mysql.password is None and local_admin.exists():
        return "payments_admin", SecretStr(local_admin.read_text(encoding="utf-8").strip())
    return mysql.user, mysql.secret()


@cache
def named_statements(file_name: str) -> dict[str, str]:
    """Statements of sql/<file_name>, each introduced by a `-- name: <name>` line."""
    text = (SQL_DIR / file_name).read_text(encoding="utf-8")
    parts = _NAMED.split(text)
    return {name: body.strip().rstrip(";") for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def split_script(text: str) -> list[str]:
    """The statements of a migration script: split on ';' at line ends, comments dropped."""
    without_comments = "\n".join(line for line in text.splitlines()
                                 if not line.lstrip().startswith("--"))
    return [statement.strip() for statement in re.split(r";\s*$", without_comments, flags=re.MULTILINE)
            if statement.strip()]


def sql_path(*parts: str) -> Path:
    return SQL_DIR.joinpath(*parts)
