"""What the dashboard shows, read from MySQL (sql/dashboard.sql): plain functions of a cursor
that return frames and figures, no Streamlit here, so tests and the benchmark call them too."""
from __future__ import annotations

import json
import queue
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from core.config import ACTIONS, ALERT_ACTIONS, MySqlConfig
from sinks.mysql_connection import connect, named_statements

SQL = "dashboard.sql"
DECISIONS, ALERT_DECISIONS = ACTIONS, ALERT_ACTIONS
_COLUMN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def statement(name: str) -> str:
    return named_statements(SQL)[name]


class ConnectionPool:
    """A few reused connections for the dashboard's sessions (a new one costs ~40 ms of TLS set-up)."""

    def __init__(self, mysql: MySqlConfig, size: int = 4):
        self.mysql = mysql
        self._idle: queue.LifoQueue = queue.LifoQueue(maxsize=size)

    @contextmanager
    def cursor(self) -> Iterator:
        try:
            connection = self._idle.get_nowait()
            connection.ping(reconnect=False)
        except queue.Empty:
            connection = connect(self.mysql, autocommit=True)
        except Exception:  # noqa: BLE001 - a dropped idle connection: open another
            connection = connect(self.mysql, autocommit=True)
        try:
            with connection.cursor() as cursor:
                yield cursor
        except Exception:
            connection.close()
            raise
        try:
            self._idle.put_nowait(connection)
        except queue.Full:
            connection.close()


def database_now(cursor) -> datetime:
    """The database's UTC clock: windows are measured against the times it wrote."""
    cursor.execute(statement("database_now"))
    return cursor.fetchone()[0]


def _frame(cursor, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(list(cursor.fetchall()), columns=columns)


@dataclass(frozen=True)
class Overview:
    """Ledger figures of a time window (stream_batches)."""

    batches: int
    rows_in: int
    scored: int
    approved: int
    review: int
    declined: int
    rejected: int
    duplicates: int
    alerts: int
    per_minute: pd.DataFrame
    recent: pd.DataFrame
    model_version: str | None
    last_commit: datetime | None

    @property
    def alert_rate(self) -> float | None:
        return self.alerts / self.scored if self.scored else None

    def throughput(self, now: datetime, seconds: int = 60) -> float:
        """Kafka records committed per second over the last `seconds`."""
        if self.recent.empty:
            return 0.0
        recent = self.recent[self.recent["committed_at"] >= now - timedelta(seconds=seconds)]
        return float(recent["rows_in"].sum()) / seconds


def overview(cursor, since: datetime, recent_batches: int = 200) -> Overview:
    cursor.execute(statement("window_totals"), {"since": since})
    batches, *totals = (int(v) for v in cursor.fetchone())
    cursor.execute(statement("minute_totals"), {"since": since})
    per_minute = _frame(cursor, ["minute", "rows_in", "scored", *[d.lower() for d in DECISIONS], "rejected", "alerts"])
    cursor.execute(statement("recent_batches"), {"since": since, "limit": recent_batches})
    recent = _frame(cursor, ["batch_id", "rows_in", "started_at", "committed_at", "latency_p50_ms",
                             "latency_p95_ms", "latency_p99_ms", "latency_max_ms", "model_version"])
    model_version, last_commit = latest_batch(cursor)
    for column in per_minute.columns[1:]:
        per_minute[column] = per_minute[column].astype("int64")
    return Overview(batches, *totals, per_minute=per_minute, recent=recent,
                    model_version=model_version, last_commit=last_commit)


def latest_batch(cursor) -> tuple[str | None, datetime | None]:
    """Model version and commit time of the newest committed batch (None, None before any)."""
    cursor.execute(statement("latest_batch"))
    latest = cursor.fetchone()
    return (latest[0], latest[1]) if latest else (None, None)


def latest_models(cursor) -> tuple[str | None, str | None]:
    """Champion and shadow versions of the newest committed batch (None before any, or no shadow)."""
    cursor.execute(statement("latest_models"))
    latest = cursor.fetchone()
    return (latest[0], latest[1]) if latest else (None, None)


@dataclass(frozen=True)
class ShadowComparison:
    """Champion against shadow on the same payments: how alike their scores are, how their alerts
    overlap, and each one's precision on its labelled alerts so far."""

    payments: int
    correlation: float | None
    champion_alerts: int
    shadow_alerts: int
    both_alerts: int
    champion_labelled: int
    champion_frauds: int
    shadow_labelled: int
    shadow_frauds: int

    @property
    def overlap(self) -> float | None:
        """Alerts both raised, over the alerts either raised (Jaccard)."""
        either = self.champion_alerts + self.shadow_alerts - self.both_alerts
        return self.both_alerts / either if either else None

    @staticmethod
    def precision(frauds: int, labelled: int) -> float | None:
        return frauds / labelled if labelled else None


def pearson(n: int, sx: float, sy: float, sxx: float, syy: float, sxy: float) -> float | None:
    """The correlation of two columns from their sums (None when either is constant)."""
    if n < 2:
        return None
    covariance, var_x, var_y = sxy - sx * sy / n, sxx - sx * sx / n, syy - sy * sy / n
    return covariance / float(np.sqrt(var_x * var_y)) if var_x > 0 and var_y > 0 else None


def shadow_comparison(cursor, since: datetime, champion: str, shadow: str, shadow_review: float) -> ShadowComparison:
    cursor.execute(statement("shadow_comparison"), {"since": since, "champion": champion, "shadow": shadow,
                                                    "shadow_review": shadow_review})
    n, *sums = cursor.fetchone()
    n = int(n or 0)
    sums = [float(value or 0) for value in sums]
    counts = [int(value) for value in sums[5:]]
    return ShadowComparison(n, pearson(n, *sums[:5]), *counts)


@dataclass(frozen=True)
class AlertFilter:
    since: datetime
    until: datetime
    decisions: tuple[str, ...] = ALERT_DECISIONS
    reason: str | None = None

    def bind(self, name: str) -> tuple[str, dict]:
        """The named statement with one placeholder per decision, and its parameters."""
        decisions = tuple(d for d in self.decisions if d in ALERT_DECISIONS) or ALERT_DECISIONS
        params = {"since": self.since, "until": self.until, "reason": self.reason,
                  **{f"decision_{i}": decision for i, decision in enumerate(decisions)}}
        placeholders = ", ".join(f"%(decision_{i})s" for i in range(len(decisions)))
        return statement(name).replace("{placeholders}", placeholders), params


def alerts(cursor, where: AlertFilter, limit: int = 200) -> tuple[pd.DataFrame, int]:
    """The newest alerts matching the filter (at most `limit`) and how many match in all."""
    sql, params = where.bind("alerts")
    cursor.execute(sql, {**params, "limit": limit})
    frame = _frame(cursor, ["committed_at", "transaction_id", "decision", "score", "reasons", "top_features", "amount",
                            "currency", "customer_id", "terminal_id", "event_time"])
    sql, params = where.bind("alert_count")
    cursor.execute(sql, params)
    return frame, int(cursor.fetchone()[0])


@dataclass(frozen=True)
class AlertToLabel:
    """What a label message carries about the alerted payment."""

    transaction_id: str
    customer_id: str
    terminal_id: str
    event_time: datetime


def alert_to_label(cursor, transaction_id: str) -> AlertToLabel | None:
    """The alert of that transaction, None when there is none."""
    cursor.execute(statement("alert_to_label"), {"transaction_id": transaction_id})
    row = cursor.fetchone()
    return AlertToLabel(*row) if row else None


def latest_label(cursor, transaction_id: str) -> tuple[bool, str | None, datetime] | None:
    """(is_fraud, labeled_by, labeled_at) of the transaction's current label, None when unlabelled."""
    cursor.execute(statement("latest_label"), {"transaction_id": transaction_id})
    row = cursor.fetchone()
    return (bool(row[0]), row[1], row[2]) if row else None


def alerted_customers(cursor, since: datetime, limit: int = 25) -> list[str]:
    """Up to `limit` customers with the newest alerts, newest first."""
    cursor.execute(statement("latest_alerted_customers"), {"since": since, "limit": limit * 8})
    return list(dict.fromkeys(row[0] for row in cursor.fetchall()))[:limit]


def customer_transactions(cursor, customer_id: str, feature_columns: list[str], limit: int = 200) -> pd.DataFrame:
    """A customer's latest payments with score, decision and velocity features, newest first."""
    for column in feature_columns:
        if not _COLUMN.match(column):
            raise ValueError(f"{column!r} is not a feature column name")
    sql = statement("customer_transactions").replace("{feature_columns}", ", ".join(feature_columns))
    cursor.execute(sql, {"customer_id": customer_id, "limit": limit})
    return _frame(cursor, ["event_time", "transaction_id", "amount", "currency", "terminal_id", "score", "decision",
                           "reasons", *feature_columns])


@dataclass(frozen=True)
class ScoreDistribution:
    counts: np.ndarray            # per score bin, the window's scored rows
    model_versions: tuple[str, ...]

    @property
    def total(self) -> int:
        return int(self.counts.sum())


def score_distribution(cursor, since: datetime, bins: int = 20) -> ScoreDistribution:
    """The window's score histogram: the sum of its batches' histograms (stream_batches)."""
    cursor.execute(statement("score_histograms"), {"since": since})
    counts, versions = np.zeros(bins, dtype=np.int64), set()
    for histogram, version in cursor.fetchall():
        values = json.loads(histogram)
        if len(values) == bins:
            counts += np.asarray(values, dtype=np.int64)
        if version:
            versions.add(version)
    return ScoreDistribution(counts, tuple(sorted(versions)))


def rejected_by_reason(cursor, since: datetime) -> pd.DataFrame:
    cursor.execute(statement("rejected_by_reason"), {"since": since})
    frame = _frame(cursor, ["reason_code", "messages"])
    frame["messages"] = frame["messages"].astype("int64")
    return frame


def rejected_samples(cursor, reason: str, since: datetime, limit: int = 20) -> pd.DataFrame:
    """The newest rejected messages of a reason; raw bytes as escaped text (never markup)."""
    cursor.execute(statement("rejected_samples"), {"reason": reason, "since": since, "limit": limit})
    frame = _frame(cursor, ["committed_at", "kafka_topic", "kafka_partition", "kafka_offset", "reason_message",
                            "raw_value_length", "raw_value_prefix"])
    frame["raw_value"] = [escaped_text(raw) for raw in frame.pop("raw_value_prefix")]
    return frame


def escaped_text(raw: bytes | None) -> str:
    """Bytes as printable text: undecodable bytes and control characters become escapes."""
    if raw is None:
        return ""
    text = bytes(raw).decode("utf-8", errors="backslashreplace")
    return "".join(ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)


def representative_queries(velocity_columns: list[str], now: datetime) -> dict[str, tuple[str, dict]]:
    """(SQL, parameters) of every statement in sql/dashboard.sql as the views run them over the
    last hour before `now`: for EXPLAIN checks (tests, benchmark)."""
    window = {"since": now - timedelta(hours=1)}
    queries = {name: (statement(name), params) for name, params in {
        "database_now": {}, "window_totals": window, "minute_totals": window,
        "recent_batches": {**window, "limit": 200}, "latest_batch": {}, "latest_models": {},
        "shadow_comparison": {**window, "champion": "a", "shadow": "b", "shadow_review": 0.5},
        "latest_alerted_customers": {**window, "limit": 200}, "score_histograms": window,
        "rejected_by_reason": window, "rejected_samples": {**window, "reason": "BAD_JSON", "limit": 20},
        "alert_to_label": {"transaction_id": "t1"}, "latest_label": {"transaction_id": "t1"},
    }.items()}
    where = AlertFilter(since=window["since"], until=now, reason="SCORE_HIGH")
    for name in ("alerts", "alert_count"):
        sql, params = where.bind(name)
        queries[name] = (sql, {**params, "limit": 200})
    queries["customer_transactions"] = (statement("customer_transactions").replace(
        "{feature_columns}", ", ".join(velocity_columns)), {"customer_id": "C1", "limit": 200})
    return queries


def explain(cursor, sql: str, params: dict) -> list[dict]:
    cursor.execute("EXPLAIN " + sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def full_scans(plan: list[dict], table: str = "scored_transactions") -> list[dict]:
    """The steps of a plan that read all of `table` (its rows or a whole index)."""
    return [step for step in plan if step["table"] == table and (step["type"] in ("ALL", "index") or not step["key"])]
