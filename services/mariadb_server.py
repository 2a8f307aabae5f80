"""MariaDB from Debian's packages, run as a plain process with a project-local datadir.

First start initialises the datadir (root authenticates only over the local socket),
creates the database, an admin user for migrations, the job's account and the dashboard's
read-only account (their privileges, table by table, come after the migrations:
services/grants.py), and writes their random passwords under state/secrets/.
"""
from __future__ import annotations

import getpass
import logging
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pymysql

from core.config import AppConfig
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

CLIENT_HOSTS = ("localhost", "127.0.0.1")


@dataclass(frozen=True)
class MariaDbServer:
    """Paths, port and accounts of the local MariaDB; methods start, check and stop it."""

    host: str
    port: int
    database: str
    app_user: str
    app_password_file: Path
    reader_user: str
    reader_password_file: Path
    home: Path
    certificates: LocalCertificates
    start_timeout_seconds: int

    @classmethod
    def from_config(cls, config: AppConfig) -> MariaDbServer:
        local = config.local_services
        return cls(host=config.mysql.host, port=config.mysql.port, database=config.mysql.database,
                   app_user=config.mysql.user, app_password_file=config.mysql.password_file,
                   reader_user=config.mysql.reader_user, reader_password_file=config.mysql.reader_password_file,
                   home=local.state_dir / "mariadb", certificates=LocalCertificates(local.state_dir / "tls"),
                   start_timeout_seconds=local.start_timeout_seconds)

    @property
    def socket(self) -> Path:
        return self.home / "mysqld.sock"

    @property
    def pid_file(self) -> Path:
        return self.home / "mysqld.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "error.log"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def admin_password_file(self) -> Path:
        return self.app_password_file.parent / "mysql-admin-password"

    admin_user = "payments_admin"

    def is_running(self) -> bool:
        return read_pid(self.pid_file) is not None

    def start(self) -> None:
        """Start (initialising on first start), wait for a query, then ensure database and users."""
        if self.is_running():
            log.info("MariaDB already running (pid %s), reusing it", read_pid(self.pid_file))
        else:
            server = _mariadbd_binary()
            require_free_port(self.host, self.port, "MariaDB server", "MYSQL_PORT")
            if not (self.data_dir / "mysql").exists():
                self._initialise_datadir()
            self.pid_file.unlink(missing_ok=True)
            self.certificates.ensure()
            spawn_detached(self._server_command(server), self.home / "stdout.log", self.pid_file)
            log.info("MariaDB starting on %s:%s (log: %s)", self.host, self.port, self.log_file)
        wait_until(self._answers, self.start_timeout_seconds,
                   f"MariaDB on {self.host}:{self.port}", self.log_file, self.pid_file)
        self._ensure_database_and_users()

    def stop(self) -> bool:
        return stop_process(self.pid_file, "MariaDB", timeout_seconds=120)

    def root_connection(self) -> pymysql.connections.Connection:
        """Root over the local socket (unix_socket authentication): set-up only."""
        return pymysql.connect(unix_socket=str(self.socket), user=_os_user(), autocommit=True)

    def _server_command(self, server: str) -> list[str]:
        return [
            server, "--no-defaults",
            f"--datadir={self.data_dir}", f"--socket={self.socket}", f"--port={self.port}",
            f"--bind-address={self.host}", f"--pid-file={self.home / 'mariadbd.pid'}",
            f"--log-error={self.log_file}", f"--user={_os_user()}",
            "--skip-name-resolve", "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci", "--innodb-buffer-pool-size=2G",
            "--innodb-log-file-size=1G", "--innodb-log-buffer-size=128M", "--max-connections=300",
            "--max-allowed-packet=64M", "--default-time-zone=+00:00",
            # TLS offered to every client; an account created REQUIRE SSL may only use it.
            f"--ssl-ca={self.certificates.ca_file}", f"--ssl-cert={self.certificates.server_cert}",
            f"--ssl-key={self.certificates.server_key}",
        ]

    def _initialise_datadir(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        installer = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        user = _os_user()
        result = subprocess.run(
            [installer, "--no-defaults", f"--datadir={self.data_dir}", f"--user={user}",
             "--auth-root-authentication-method=socket", f"--auth-root-socket-user={user}",
             "--skip-test-db"],
            capture_output=True, text=True, timeout=300,
        )
        if result.returncode != 0:
            raise ServiceError(f"mariadb-install-db failed:\n{result.stdout}{result.stderr}")

    def _answers(self) -> bool:
        with self.root_connection() as connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)

    def _ensure_database_and_users(self) -> None:
        self.ensure_database(self.database)

    def ensure_database(self, name: str) -> None:
        """Create a database (if missing) and the accounts: the admin may do anything in it; the
        job's and the reader's privileges are granted after the migrations (services/grants.py).
        The project's own database, or another one for a benchmark or a test."""
        _check_database_name(name)
        app_password = read_or_create_secret(self.app_password_file)
        reader_password = read_or_create_secret(self.reader_password_file)
        admin_password = read_or_create_secret(self.admin_password_file)
        with self.root_connection() as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{name}` "
                           "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            for host in CLIENT_HOSTS:
                _ensure_user(cursor, self.app_user, host, app_password)
                _ensure_user(cursor, self.reader_user, host, reader_password)
                _ensure_user(cursor, self.admin_user, host, admin_password)
                cursor.execute(f"GRANT ALL PRIVILEGES ON `{name}`.* TO %s@%s", (self.admin_user, host))

    def drop_database(self, name: str) -> None:
        """Drop a database made by ensure_database (never the project's own)."""
        _check_database_name(name)
        if name == self.database:
            raise ServiceError(f"refusing to drop the project's database {name}")
        with self.root_connection() as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


def _check_database_name(name: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name):
        raise ServiceError(f"database name {name!r}: use a-z, 0-9 and _")


def _ensure_user(cursor, user: str, host: str, password: str) -> None:
    cursor.execute("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (user, host, password))
    cursor.execute("ALTER USER %s@%s IDENTIFIED BY %s", (user, host, password))


def _mariadbd_binary() -> str:
    for candidate in ("mariadbd", "mysqld"):
        system = Path("/usr/sbin") / candidate
        found = shutil.which(candidate) or (system if system.exists() else None)
        if found:
            return str(found)
    raise ServiceError("MariaDB server not installed; run `make setup` "
                       "(it runs `apt-get install mariadb-server`)")


def _os_user() -> str:
    return getpass.getuser()
