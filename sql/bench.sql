-- Read-backs of the benchmark commands (bench/). Values are %(name)s parameters.

-- name: stream_totals
SELECT COUNT(*) AS batches, COALESCE(SUM(rows_in), 0) AS rows_in,
       COALESCE(SUM(rows_scored), 0) AS rows_scored, COALESCE(SUM(rows_rejected), 0) AS rows_rejected,
       MIN(started_at) AS first_started_at, MAX(committed_at) AS last_committed_at
FROM stream_batches WHERE stream_id = %(stream_id)s;

-- name: row_latencies
-- A row is committed with its batch's ledger row (committed_at, written by the batch's commit
-- transaction); kafka_timestamp is the producer's send time.
SELECT s.kafka_timestamp, TIMESTAMPDIFF(MICROSECOND, s.kafka_timestamp, b.committed_at) / 1000.0
FROM scored_transactions s
JOIN stream_batches b ON b.stream_id = s.stream_id AND b.batch_id = s.batch_id
WHERE s.stream_id = %(stream_id)s;

-- name: table_rows
-- InnoDB's estimate (exact counts of millions of rows take seconds): how full the database was.
SELECT TABLE_ROWS FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'scored_transactions';
