"""When to restart a failed scoring query: outages of Kafka or MySQL are waited out with
backoff (a restart replays the failed micro-batch from the checkpoint, exactly once);
anything else (a bug, bad config, bad SQL) stops the job."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

# Text of exceptions (Python, JDBC, Kafka client, Spark) that mean "a service is unreachable".
OUTAGE_MARKERS = (
    "Communications link failure", "Connection refused", "Could not connect", "Socket fail to connect",
    "Can't connect to MySQL server", "Lost connection to MySQL server", "MySQL server has gone away",
    "SQLNonTransientConnectionException", "SQLTransientConnectionException", "Connection reset",
    "Connection is closed", "Broken pipe",
    "org.apache.kafka.common.errors.TimeoutException", "DisconnectException", "Broker transport failure",
    "Failed to get records", "Timeout of", "not delivered to Kafka", "NetworkException",
    "All broker connections are down", "_TRANSPORT", "Failed to fetch offsets", "NOT_LEADER_OR_FOLLOWER",
    # An executor's JDBC append rolled back by MariaDB (the batch is replayed, exactly once).
    "Deadlock found when trying to get lock", "Lock wait timeout exceeded",
    "Read timed out", "timed out",
)


def is_outage(error: BaseException | str) -> bool:
    text = str(error)
    return any(marker in text for marker in OUTAGE_MARKERS)


def outage_summary(error: BaseException | str, limit: int = 300) -> str:
    """The line of the error that names the outage (Spark wraps it in many lines), else the first."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [""]
    named = [line for line in lines if any(marker in line for marker in OUTAGE_MARKERS)]
    return (named or lines)[0][:limit]


@dataclass
class RestartPolicy:
    """Exponential backoff (1, 2, 4 ... max_seconds) while failures are outages; gives up after
    give_up_seconds without a committed batch."""

    max_seconds: int
    give_up_seconds: int
    clock: callable = time.monotonic
    attempt: int = 0
    failing_since: float | None = field(default=None)

    def committed(self) -> None:
        """A micro-batch committed: the outage is over."""
        self.attempt, self.failing_since = 0, None

    def next_delay(self, error: BaseException | str) -> float | None:
        """Seconds to wait before restarting, or None: do not restart."""
        if not is_outage(error):
            return None
        now = self.clock()
        self.failing_since = self.failing_since if self.failing_since is not None else now
        if now - self.failing_since > self.give_up_seconds:
            return None
        delay = min(2 ** self.attempt, self.max_seconds)
        self.attempt += 1
        return float(delay)
