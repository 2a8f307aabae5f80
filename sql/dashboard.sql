-- Read-only queries of the dashboard (dashboard/data.py). Values are %(name)s parameters;
-- {placeholders} and {feature_columns} are filled with %s lists and checked identifiers.
-- Every query is bounded by an index (tests/integration/test_dashboard_queries.py runs EXPLAIN
-- on each): the ledger and the outbox tables by committed_at, payments by customer.

-- name: database_now
SELECT UTC_TIMESTAMP(6);

-- name: window_totals
SELECT COUNT(*), COALESCE(SUM(rows_in), 0), COALESCE(SUM(rows_scored), 0), COALESCE(SUM(rows_approved), 0),
       COALESCE(SUM(rows_review), 0), COALESCE(SUM(rows_declined), 0), COALESCE(SUM(rows_rejected), 0),
       COALESCE(SUM(rows_duplicate), 0), COALESCE(SUM(alerts), 0)
FROM stream_batches WHERE committed_at >= %(since)s;

-- name: minute_totals
SELECT TIMESTAMP(DATE(committed_at), MAKETIME(HOUR(committed_at), MINUTE(committed_at), 0)) AS minute,
       SUM(rows_in), SUM(rows_scored), SUM(rows_approved), SUM(rows_review), SUM(rows_declined),
       SUM(rows_rejected), SUM(alerts)
FROM stream_batches WHERE committed_at >= %(since)s
GROUP BY minute ORDER BY minute;

-- name: recent_batches
SELECT batch_id, rows_in, started_at, committed_at, latency_p50_ms, latency_p95_ms, latency_p99_ms,
       latency_max_ms, model_version
FROM stream_batches WHERE committed_at >= %(since)s
ORDER BY committed_at DESC LIMIT %(limit)s;

-- name: latest_batch
SELECT model_version, committed_at FROM stream_batches ORDER BY committed_at DESC LIMIT 1;

-- name: alerts
SELECT committed_at, transaction_id, decision, score, reasons, amount, currency, customer_id, terminal_id,
       event_time
FROM payment_alerts
WHERE committed_at >= %(since)s AND committed_at <= %(until)s AND decision IN ({placeholders})
  AND (%(reason)s IS NULL OR FIND_IN_SET(%(reason)s, reasons) > 0)
ORDER BY committed_at DESC LIMIT %(limit)s;

-- name: alert_count
SELECT COUNT(*) FROM payment_alerts
WHERE committed_at >= %(since)s AND committed_at <= %(until)s AND decision IN ({placeholders})
  AND (%(reason)s IS NULL OR FIND_IN_SET(%(reason)s, reasons) > 0);

-- name: latest_alerted_customers
-- Customers of the newest alerts (newest first; the caller drops repeats): a short backward
-- index read, where grouping a day of alerts by customer would read them all.
SELECT customer_id FROM payment_alerts
WHERE committed_at >= %(since)s
ORDER BY committed_at DESC LIMIT %(limit)s;

-- name: customer_transactions
SELECT event_time, transaction_id, amount, currency, terminal_id, score, decision, reasons, {feature_columns}
FROM scored_transactions
WHERE customer_id = %(customer_id)s
ORDER BY event_time DESC LIMIT %(limit)s;

-- name: score_histograms
SELECT score_histogram, model_version FROM stream_batches
WHERE committed_at >= %(since)s AND score_histogram IS NOT NULL;

-- name: rejected_by_reason
SELECT reason_code, COUNT(*) FROM rejected_payments
WHERE committed_at >= %(since)s
GROUP BY reason_code ORDER BY COUNT(*) DESC, reason_code;

-- name: rejected_samples
SELECT committed_at, kafka_topic, kafka_partition, kafka_offset, reason_message, raw_value_length, raw_value_prefix
FROM rejected_payments
WHERE reason_code = %(reason)s AND committed_at >= %(since)s
ORDER BY committed_at DESC LIMIT %(limit)s;
