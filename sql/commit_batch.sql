-- Statements the sink runs to commit a staged micro-batch in ONE transaction.
-- {table} and {columns} are filled from a fixed list of table names and the staged
-- frame's column names (identifiers, checked); every value is a %(name)s parameter.
-- INSERT IGNORE: a row already stored (same key: the same payment sent again, or a
-- replayed batch) is not a second row.

-- name: move_staged
INSERT IGNORE INTO {table} ({columns}, stream_id, batch_id, committed_at)
SELECT {columns}, stream_id, batch_id, UTC_TIMESTAMP(6)
FROM {table}_staging
WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s;

-- name: clear_staged
DELETE FROM {table}_staging WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s;

-- name: record_batch
INSERT INTO stream_batches
  (stream_id, batch_id, rows_in, rows_scored, rows_rejected, labels_in, late_rows, state_events,
   started_at, committed_at)
VALUES (%(stream_id)s, %(batch_id)s, %(rows_in)s, %(rows_scored)s, %(rows_rejected)s, %(labels_in)s,
        %(late_rows)s, %(state_events)s, %(started_at)s, UTC_TIMESTAMP(6));

-- name: batch_committed
SELECT 1 FROM stream_batches WHERE stream_id = %(stream_id)s AND batch_id = %(batch_id)s;
