-- Read-only queries behind scripts/print_summary.py (one stream: its stream_id).

-- name: latest_stream
SELECT stream_id FROM stream_batches ORDER BY committed_at DESC LIMIT 1;

-- name: totals
SELECT COUNT(*), SUM(rows_in), SUM(rows_scored), SUM(rows_rejected), SUM(rows_duplicate), SUM(labels_in),
       SUM(alerts), SUM(late_rows), MIN(started_at), MAX(committed_at)
FROM stream_batches WHERE stream_id = %(stream_id)s;

-- name: decisions
SELECT SUM(rows_approved), SUM(rows_review), SUM(rows_declined) FROM stream_batches
WHERE stream_id = %(stream_id)s;

-- name: alert_reasons
SELECT reasons FROM payment_alerts WHERE stream_id = %(stream_id)s;

-- name: latencies_ms
-- A row is committed with its batch's ledger row; kafka_timestamp is the producer's send time.
SELECT TIMESTAMPDIFF(MICROSECOND, s.kafka_timestamp, b.committed_at) / 1000
FROM scored_transactions s
JOIN stream_batches b ON b.stream_id = s.stream_id AND b.batch_id = s.batch_id
WHERE s.stream_id = %(stream_id)s;

-- name: rejected_by_reason
SELECT reason_code, COUNT(*) FROM rejected_payments WHERE stream_id = %(stream_id)s
GROUP BY reason_code ORDER BY COUNT(*) DESC, reason_code;
