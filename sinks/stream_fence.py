"""One driver per stream: a MariaDB named lock, held by a database session of the driver.

Spark does not stop a second driver on the same checkpoint (a double start, or a zombie
after a network partition) from running the same micro-batch; the sink's clear-then-rewrite
of an uncommitted attempt could then delete rows the other driver committed. The driver
takes the stream's lock (GET_LOCK on its own connection) before the query starts, and the
sink verifies it still holds it before it deletes anything and before it commits a batch.
The lock goes with the session: a driver that dies or loses its connection loses it, and a
driver that finds it held by another session stops without writing.
"""
from __future__ import annotations

import hashlib
import logging
import threading

import pymysql

from core.config import MySqlConfig
from sinks.mysql_connection import close_quietly, connect

log = logging.getLogger(__name__)
LOCK_PREFIX = "payscore.stream."
# How long a starting driver waits for the lock: a session the server has not yet seen close
# (this driver's own, just lost; a driver stopping) lets it go within seconds.
LOCK_WAIT_SECONDS = 10


class StreamFenced(RuntimeError):
    """Another driver's database session holds this stream's lock: this driver must not write."""


def lock_name(checkpoint_location: str) -> str:
    """The stream's lock: named after its checkpoint (MariaDB lock names are at most 64 characters)."""
    return LOCK_PREFIX + hashlib.sha256(str(checkpoint_location).encode("utf-8")).hexdigest()[:40]


class StreamFence:
    """The stream's lock, held by a connection of this driver that does nothing else."""

    def __init__(self, mysql: MySqlConfig, checkpoint_location: str):
        self.mysql = mysql
        self.checkpoint_location = str(checkpoint_location)
        self.name = lock_name(self.checkpoint_location)
        self._connection: pymysql.connections.Connection | None = None
        self._guard = threading.Lock()

    def hold(self) -> None:
        """Take the lock, or keep it if this driver holds it; StreamFenced if another session does."""
        with self._guard:
            if not self._holds():
                self._acquire()

    def verify(self) -> None:
        """Before a write: this driver still holds the lock. A session lost with the lock free
        (a database restart) takes it again; a lock another session took raises StreamFenced."""
        self.hold()

    def release(self) -> None:
        """Give the lock back at once (closing the session alone frees it only when the server
        has processed the disconnect, which a successor or a check may not wait for)."""
        with self._guard:
            if self._connection is not None:
                try:
                    with self._connection.cursor() as cursor:
                        cursor.execute("DO RELEASE_LOCK(%s)", (self.name,))
                except pymysql.err.Error:
                    pass  # the session is gone, and the lock with it
            self._close()

    def _holds(self) -> bool:
        if self._connection is None:
            return False
        try:
            with self._connection.cursor() as cursor:
                cursor.execute("SELECT IS_USED_LOCK(%s) = CONNECTION_ID()", (self.name,))
                return cursor.fetchone()[0] == 1
        except pymysql.err.Error as error:
            log.warning("the session holding stream lock %s is gone (%s); taking the lock again", self.name, error)
            self._close()
            return False

    def _acquire(self) -> None:
        self._close()
        connection = connect(self.mysql, autocommit=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, %s), IS_USED_LOCK(%s)", (self.name, LOCK_WAIT_SECONDS, self.name))
            taken, holder = cursor.fetchone()
        if taken != 1:
            connection.close()
            raise StreamFenced(
                f"another driver is running the stream of checkpoint {self.checkpoint_location}: database "
                f"session {holder} has held its lock {self.name} for {LOCK_WAIT_SECONDS} s. Stop that driver (or "
                "wait for its database session to end) before starting this one; this driver writes nothing")
        self._connection = connection
        log.info("stream lock %s taken (database session %s) for checkpoint %s", self.name, holder,
                 self.checkpoint_location)

    def _close(self) -> None:
        close_quietly(self._connection)
        self._connection = None


_FENCES: dict[str, StreamFence] = {}
_FENCES_GUARD = threading.Lock()


def stream_fence(mysql: MySqlConfig, checkpoint_location: str) -> StreamFence:
    """The process's fence for a checkpoint (one lock session per stream, reused across restarts
    of the query inside one driver)."""
    name = lock_name(str(checkpoint_location))
    with _FENCES_GUARD:
        if name not in _FENCES:
            _FENCES[name] = StreamFence(mysql, checkpoint_location)
        return _FENCES[name]
