-- Statements the sink runs to commit a staged micro-batch in ONE transaction.
-- {table} and {columns} are filled from a fixed list of table names and the staged
-- frame's column names (identifiers, checked); every value is a %(name)s parameter.
-- INSERT IGNORE: a row already stored (same key: the same payment sent again, or a
-- replayed batch) is not a second row.

-- name: move_staged
INSERT IGNORE INTO {table} ({columns}, stream_id, batch_id, committed_at)
SELECT {columns}, stream_id, batch_id, UTC_TIMESTAMP(6)
FROM {table}_staging
WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s
ORDER BY kafka_partition, kafka_offset;

-- name: reject_conflicts
-- A transaction_id already stored with other content: the later message is rejected.
INSERT IGNORE INTO rejected_payments
  (kafka_topic, kafka_partition, kafka_offset, kafka_timestamp, reason_code, reason_message,
   raw_value_prefix, raw_value_length, stream_id, batch_id, committed_at)
SELECT %(payments_topic)s, s.kafka_partition, s.kafka_offset, s.kafka_timestamp, 'DUPLICATE_CONFLICT',
       CONCAT('transaction_id ', s.transaction_id, ' is already stored with other content (partition ',
              t.kafka_partition, ', offset ', t.kafka_offset, ')'),
       NULL, 0, s.stream_id, s.batch_id, UTC_TIMESTAMP(6)
FROM scored_transactions_staging s
JOIN scored_transactions t ON t.transaction_id = s.transaction_id
WHERE s.stream_id = %(stream_id)s AND s.batch_id = %(batch_id)s
  AND NOT (t.kafka_partition = s.kafka_partition AND t.kafka_offset = s.kafka_offset)
  AND NOT (t.customer_id = s.customer_id AND t.terminal_id = s.terminal_id AND t.amount = s.amount
           AND t.currency = s.currency AND t.event_time = s.event_time);

-- name: record_alerts
INSERT IGNORE INTO payment_alerts
  (transaction_id, customer_id, terminal_id, amount, currency, event_time, decision, score, reasons,
   model_version, stream_id, batch_id, committed_at)
SELECT transaction_id, customer_id, terminal_id, amount, currency, event_time, decision, score, reasons,
       model_version, stream_id, batch_id, committed_at
FROM scored_transactions
WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s AND decision IN ('REVIEW', 'DECLINED');

-- name: unpublished_alerts
SELECT transaction_id, customer_id, terminal_id, amount, currency, event_time, decision, score, reasons,
       model_version
FROM payment_alerts
WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s AND published_at IS NULL;

-- name: mark_alerts_published
UPDATE payment_alerts SET published_at = UTC_TIMESTAMP(6)
WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s AND published_at IS NULL;

-- name: unpublished_rejects
SELECT kafka_topic, kafka_partition, kafka_offset, reason_code, reason_message, raw_value_prefix,
       raw_value_length
FROM rejected_payments
WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s AND published_at IS NULL;

-- name: mark_rejects_published
UPDATE rejected_payments SET published_at = UTC_TIMESTAMP(6)
WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s AND published_at IS NULL;

-- name: clear_staged
DELETE FROM {table}_staging WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s;

-- name: record_batch
INSERT INTO stream_batches
  (stream_id, batch_id, rows_in, rows_scored, rows_rejected, rows_duplicate, alerts, labels_in,
   late_rows, state_events, latency_p50_ms, latency_p95_ms, latency_max_ms, started_at, committed_at)
VALUES (%(stream_id)s, %(batch_id)s, %(rows_in)s, %(rows_scored)s, %(rows_rejected)s, %(rows_duplicate)s,
        %(alerts)s, %(labels_in)s, %(late_rows)s, %(state_events)s, %(latency_p50_ms)s, %(latency_p95_ms)s,
        %(latency_max_ms)s, %(started_at)s, UTC_TIMESTAMP(6));

-- name: batch_committed
SELECT 1 FROM stream_batches WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s;
