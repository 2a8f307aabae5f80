"""Fill a database quickly with a dashboard-sized history, made inside the server (INSERT ...
SELECT over generated numbers, portable to MySQL 8): N scored payments in micro-batches over
the last day, their ledger rows, their alerts, and rejected messages."""
from __future__ import annotations

import json
import time

DIGITS = "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 " \
         "UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"
STREAM = "dashbench"
CHUNK = 1_000_000  # rows per INSERT ... SELECT (its own transaction)
BATCH_ROWS = 2_000
CUSTOMERS = 50_000
SPAN_SECONDS = 86_400


def numbers(digits: int) -> str:
    """A derived table of n = 0 .. 10**digits - 1."""
    tables = " CROSS JOIN ".join(f"{DIGITS} d{i}" for i in range(digits))
    value = " + ".join(f"d{i}.d * {10 ** i}" for i in range(digits))
    return f"(SELECT {value} AS n FROM {tables})"


def scored_rows_sql(start: int, model_version: str) -> str:
    """CHUNK payments numbered start..: skewed scores, decisions by score, the batch they belong to."""
    n = f"(g.n + {start})"
    score = f"POW((CRC32({n}) % 100000) / 100000.0, 12)"
    return f"""
INSERT INTO scored_transactions
  (transaction_id, customer_id, terminal_id, amount, currency, event_time, kafka_partition, kafka_offset,
   kafka_timestamp, stream_id, batch_id, scored_at, cust_count_1d, cust_mean_amount_1d, cust_count_7d,
   cust_count_30d, score, model_version, decision, score_band, reasons)
SELECT CONCAT('bench-', {n}), CONCAT('C', {n} % {CUSTOMERS}), CONCAT('T', CRC32({n}) % 10000),
       1 + (CRC32({n}) % 20000) / 100, 'EUR',
       UTC_TIMESTAMP(6) - INTERVAL ({SPAN_SECONDS} * (1 - {n} / @total)) SECOND,
       {n} % 4, {n}, UTC_TIMESTAMP(6) - INTERVAL ({SPAN_SECONDS} * (1 - {n} / @total)) SECOND,
       '{STREAM}', {n} DIV {BATCH_ROWS}, UTC_TIMESTAMP(6), 1 + {n} % 5, 50, 3 + {n} % 20, 10 + {n} % 60,
       {score}, '{model_version}',
       CASE WHEN {score} >= 0.9 THEN 'DECLINED' WHEN {score} >= 0.5 THEN 'REVIEW' ELSE 'APPROVED' END,
       CASE WHEN {score} >= 0.9 THEN 'SCORE_HIGH' WHEN {score} >= 0.5 THEN 'SCORE_MEDIUM' ELSE 'SCORE_LOW' END,
       CASE WHEN {score} >= 0.9 THEN 'SCORE_HIGH' WHEN {score} >= 0.5 THEN 'SCORE_MEDIUM' ELSE 'SCORE_LOW' END
FROM {numbers(6)} g"""


LEDGER_SQL = f"""
INSERT INTO stream_batches
  (stream_id, batch_id, rows_in, rows_scored, rows_rejected, rows_duplicate, alerts, labels_in, late_rows,
   state_events, latency_p50_ms, latency_p95_ms, latency_p99_ms, latency_max_ms, rows_approved, rows_review,
   rows_declined, score_histogram, model_version, started_at, committed_at)
SELECT '{STREAM}', batch_id, COUNT(*) + 20, COUNT(*), 20, 0, SUM(decision <> 'APPROVED'), 0, 0, 0,
       450, 700, 900, 1100, SUM(decision = 'APPROVED'), SUM(decision = 'REVIEW'), SUM(decision = 'DECLINED'),
       %(histogram)s, MAX(model_version), MAX(kafka_timestamp), MAX(kafka_timestamp) + INTERVAL 0.4 SECOND
FROM scored_transactions WHERE stream_id = '{STREAM}' GROUP BY batch_id"""

ALERTS_SQL = f"""
INSERT INTO payment_alerts
  (transaction_id, customer_id, terminal_id, amount, currency, event_time, decision, score, reasons,
   model_version, stream_id, batch_id, committed_at, published_at)
SELECT transaction_id, customer_id, terminal_id, amount, currency, event_time, decision, score, reasons,
       model_version, stream_id, batch_id, kafka_timestamp, kafka_timestamp
FROM scored_transactions WHERE stream_id = '{STREAM}' AND decision <> 'APPROVED'"""

REASONS = ("BAD_JSON", "MISSING_FIELD", "WRONG_TYPE", "BAD_ID", "AMOUNT_OUT_OF_RANGE", "BAD_CURRENCY",
           "BAD_TIMESTAMP", "OVERSIZE", "NOT_UTF8", "DUPLICATE_CONFLICT")


def rejected_sql(count: int) -> str:
    reasons = ", ".join(f"'{reason}'" for reason in REASONS)
    return f"""
INSERT INTO rejected_payments
  (kafka_topic, kafka_partition, kafka_offset, kafka_timestamp, reason_code, reason_message, raw_value_prefix,
   raw_value_length, stream_id, batch_id, committed_at, published_at)
SELECT 'payments-dashbench', g.n % 4, g.n, UTC_TIMESTAMP(6) - INTERVAL ({SPAN_SECONDS} * (1 - g.n / {count})) SECOND,
       ELT(1 + g.n % {len(REASONS)}, {reasons}), 'generated for the dashboard benchmark',
       CAST(CONCAT('{{"transaction_id": ', g.n, ', "amount": "x"}}') AS BINARY), 40, '{STREAM}',
       g.n DIV 20, UTC_TIMESTAMP(6) - INTERVAL ({SPAN_SECONDS} * (1 - g.n / {count})) SECOND,
       UTC_TIMESTAMP(6)
FROM {numbers(6)} g WHERE g.n < {count}"""


def loaded_rows(cursor) -> int:
    cursor.execute("SELECT COUNT(*) FROM stream_batches WHERE stream_id = %s", (STREAM,))
    batches = cursor.fetchone()[0]
    return batches * BATCH_ROWS


def load(connection, rows: int, model_version: str, histogram: list[int], log=print) -> float:
    """Insert `rows` scored payments (a multiple of 1,000,000) and what goes with them; seconds taken."""
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SET @total = %s", (rows,))
        for start in range(0, rows, CHUNK):
            cursor.execute(scored_rows_sql(start, model_version))
            connection.commit()
            log(f"  scored_transactions: {start + CHUNK:,} of {rows:,} ({time.monotonic() - started:.0f} s)")
        cursor.execute(LEDGER_SQL, {"histogram": json.dumps(histogram)})
        cursor.execute(ALERTS_SQL)
        cursor.execute(rejected_sql(rows // 100))
        connection.commit()
    return time.monotonic() - started
