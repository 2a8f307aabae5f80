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
SELECT committed_at, transaction_id, decision, score, reasons, top_features, amount, currency, customer_id,
       terminal_id, event_time
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

-- name: shadow_comparison
-- Champion against shadow over the window's batches that scored both (the ledger's committed_at
-- picks the batches, ix_scored_batch_decision_score their rows): sums for the score correlation,
-- alert counts and their overlap (the shadow's alert: its score at or above its own review
-- threshold), and per model its alerts' labels so far (the latest label of each payment).
SELECT COUNT(*) AS payments,
       SUM(s.score), SUM(s.shadow_score), SUM(s.score * s.score), SUM(s.shadow_score * s.shadow_score),
       SUM(s.score * s.shadow_score),
       SUM(s.decision IN ('REVIEW', 'DECLINED')),
       SUM(s.shadow_score >= %(shadow_review)s),
       SUM(s.decision IN ('REVIEW', 'DECLINED') AND s.shadow_score >= %(shadow_review)s),
       SUM(s.decision IN ('REVIEW', 'DECLINED') AND l.is_fraud IS NOT NULL),
       SUM(s.decision IN ('REVIEW', 'DECLINED') AND l.is_fraud = 1),
       SUM(s.shadow_score >= %(shadow_review)s AND l.is_fraud IS NOT NULL),
       SUM(s.shadow_score >= %(shadow_review)s AND l.is_fraud = 1)
FROM stream_batches b
JOIN scored_transactions s ON s.stream_id = b.stream_id AND s.batch_id = b.batch_id
LEFT JOIN fraud_labels l ON l.transaction_id = s.transaction_id
  AND NOT EXISTS (SELECT 1 FROM fraud_labels later   -- the latest label (as the view current_fraud_labels)
                  WHERE later.transaction_id = l.transaction_id
                    AND (later.kafka_partition, later.kafka_offset) > (l.kafka_partition, l.kafka_offset))
WHERE b.committed_at >= %(since)s AND b.model_version = %(champion)s AND b.shadow_model_version = %(shadow)s
  AND s.shadow_score IS NOT NULL;

-- name: latest_models
SELECT model_version, shadow_model_version FROM stream_batches ORDER BY committed_at DESC LIMIT 1;

-- name: alert_to_label
-- The alert an analyst labels: what a label message carries about its payment (primary key).
SELECT transaction_id, customer_id, terminal_id, event_time FROM payment_alerts
WHERE transaction_id = %(transaction_id)s;

-- name: latest_label
-- A transaction's current label, as the job stored it (its newest label message).
SELECT is_fraud, labeled_by, labeled_at FROM fraud_labels
WHERE transaction_id = %(transaction_id)s
ORDER BY kafka_partition DESC, kafka_offset DESC LIMIT 1;
