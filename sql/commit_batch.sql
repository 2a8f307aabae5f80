-- Statements the sink runs in one transaction to commit a staged micro-batch.
-- Parameters: %(stream_id)s, %(batch_id)s. INSERT IGNORE: a payment already stored
-- (the same transaction_id sent again) is not a second row.

-- name: move_scored
INSERT IGNORE INTO scored_transactions
  (transaction_id, customer_id, terminal_id, amount, currency, event_time,
   kafka_partition, kafka_offset, kafka_timestamp, stream_id, batch_id, committed_at)
SELECT transaction_id, customer_id, terminal_id, amount, currency, event_time,
       kafka_partition, kafka_offset, kafka_timestamp, stream_id, batch_id, UTC_TIMESTAMP(6)
FROM scored_transactions_staging
WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s
ORDER BY kafka_partition, kafka_offset;

-- name: move_rejected
INSERT IGNORE INTO rejected_payments
  (kafka_topic, kafka_partition, kafka_offset, kafka_timestamp, reason_code, reason_message,
   raw_value_prefix, raw_value_length, stream_id, batch_id, committed_at)
SELECT kafka_topic, kafka_partition, kafka_offset, kafka_timestamp, reason_code, reason_message,
       raw_value_prefix, raw_value_length, stream_id, batch_id, UTC_TIMESTAMP(6)
FROM rejected_payments_staging
WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s;

-- name: record_batch
INSERT INTO stream_batches
  (stream_id, batch_id, rows_in, rows_scored, rows_rejected, started_at, committed_at)
VALUES (%(stream_id)s, %(batch_id)s, %(rows_in)s, %(rows_scored)s, %(rows_rejected)s,
        %(started_at)s, UTC_TIMESTAMP(6));

-- name: clear_scored_staging
DELETE FROM scored_transactions_staging WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s;

-- name: clear_rejected_staging
DELETE FROM rejected_payments_staging WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s;

-- name: batch_committed
SELECT 1 FROM stream_batches WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s;
