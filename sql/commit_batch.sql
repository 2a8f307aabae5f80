-- Statements the sink runs for a micro-batch (sinks/mysql_sink.py, sinks/resends.py,
-- sinks/kafka_outbox.py). Every value is a parameter; {ids} is a list of %s placeholders, one
-- per transaction id.
--
-- The executors append the scored payments, fraud labels and rejected messages (tagged
-- stream_id/batch_id; a key already stored is skipped, a row the database refuses is quarantined
-- in rejected_payments: sinks/jdbc.py); then ONE transaction copies the alerts
-- and writes the ledger row. A batch without a ledger row is not committed: its rows are
-- deleted and written again when Spark replays it.

-- name: batch_committed
SELECT 1 FROM stream_batches WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s;

-- name: clear_scored
-- Rows of an earlier attempt of this (uncommitted) batch.
DELETE FROM scored_transactions WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s;

-- name: clear_labels
DELETE FROM fraud_labels WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s;

-- name: clear_rejected
DELETE FROM rejected_payments WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s;

-- name: database_now
SELECT UTC_TIMESTAMP(6);

-- name: count_batch_rows
SELECT COUNT(*) FROM scored_transactions WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s;

-- name: batch_rollup
-- Decisions and score histogram of the batch's stored rows (index-only: ix_scored_batch_decision_score).
SELECT decision, LEAST(FLOOR(score * %(score_bins)s), %(score_bins)s - 1) AS score_bin, COUNT(*)
FROM scored_transactions
WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s
GROUP BY decision, score_bin;

-- name: stored_payments
-- The stored copies of transactions a batch wrote but the append skipped (sinks/resends.py).
SELECT transaction_id, stream_id, batch_id, kafka_partition, kafka_offset,
       customer_id, terminal_id, amount, currency, event_time
FROM scored_transactions WHERE transaction_id IN ({ids});

-- name: quarantined_offsets
-- The batch's records the database refused, quarantined in rejected_payments (sinks/resends.py).
SELECT kafka_topic, kafka_partition, kafka_offset FROM rejected_payments
WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s AND reason_code = %(reason_code)s;

-- name: record_alerts
INSERT IGNORE INTO payment_alerts
  (transaction_id, customer_id, terminal_id, amount, currency, amount_base, event_time, decision, score, reasons,
   model_version, top_features, stream_id, batch_id, committed_at)
SELECT transaction_id, customer_id, terminal_id, amount, currency, amount_base, event_time, decision, score,
       reasons, model_version, top_features, stream_id, batch_id, %(committed_at)s
FROM scored_transactions
WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s AND decision IN ('REVIEW', 'DECLINED');

-- name: record_batch
INSERT INTO stream_batches
  (stream_id, batch_id, rows_in, rows_scored, rows_rejected, rows_duplicate, alerts, labels_in,
   late_rows, rows_rule_errors, rows_quarantined, latency_p50_ms, latency_p95_ms, latency_p99_ms, latency_max_ms,
   rows_approved, rows_review, rows_declined, score_histogram, model_version, shadow_model_version, started_at,
   committed_at)
VALUES (%(stream_id)s, %(batch_id)s, %(rows_in)s, %(rows_scored)s, %(rows_rejected)s, %(rows_duplicate)s,
        %(alerts)s, %(labels_in)s, %(late_rows)s, %(rows_rule_errors)s, %(rows_quarantined)s,
        %(latency_p50_ms)s, %(latency_p95_ms)s,
        %(latency_p99_ms)s, %(latency_max_ms)s, %(rows_approved)s, %(rows_review)s, %(rows_declined)s,
        %(score_histogram)s, %(model_version)s, %(shadow_model_version)s, %(started_at)s, UTC_TIMESTAMP(6));

-- name: has_unpublished
-- Whether a stream has committed alerts or dead letters not yet published, up to a batch
-- (index-only: ix_*_unpublished).
SELECT EXISTS (SELECT 1 FROM payment_alerts
               WHERE published_at IS NULL AND stream_id = %(stream_id)s AND batch_id <= %(batch_id)s),
       EXISTS (SELECT 1 FROM rejected_payments
               WHERE published_at IS NULL AND stream_id = %(stream_id)s AND batch_id <= %(batch_id)s);

-- name: unpublished_alerts
-- Read by an executor (Spark's JDBC reader): the key is inlined as literals (BatchKey.in_sql).
SELECT transaction_id, customer_id, terminal_id, amount, currency, amount_base, event_time, decision, score,
       reasons, model_version, top_features
FROM payment_alerts
WHERE published_at IS NULL AND stream_id = %(stream_id)s AND batch_id <= %(batch_id)s;

-- name: mark_alerts_published
UPDATE payment_alerts SET published_at = UTC_TIMESTAMP(6)
WHERE published_at IS NULL AND stream_id = %(stream_id)s AND batch_id <= %(batch_id)s;

-- name: unpublished_rejects
SELECT kafka_topic, kafka_partition, kafka_offset, reason_code, reason_message, raw_value_prefix,
       raw_value_length
FROM rejected_payments
WHERE published_at IS NULL AND stream_id = %(stream_id)s AND batch_id <= %(batch_id)s;

-- name: mark_rejects_published
UPDATE rejected_payments SET published_at = UTC_TIMESTAMP(6)
WHERE published_at IS NULL AND stream_id = %(stream_id)s AND batch_id <= %(batch_id)s;

-- name: checkpoint_stream
SELECT stream_id FROM stream_checkpoints WHERE location_key = %(location_key)s;

-- name: register_checkpoint
INSERT INTO stream_checkpoints (location_key, location, stream_id, registered_at)
VALUES (%(location_key)s, %(location)s, %(stream_id)s, UTC_TIMESTAMP(6))
ON DUPLICATE KEY UPDATE stream_id = VALUES(stream_id), registered_at = VALUES(registered_at);

-- name: stream_batch_count
SELECT COUNT(*), MAX(batch_id) FROM stream_batches WHERE stream_id = %(stream_id)s;
