-- Read-only queries behind scripts/print_summary.py (one stream: its stream_id).

-- name: latest_stream
SELECT stream_id FROM stream_batches ORDER BY committed_at DESC LIMIT 1;

-- name: totals
SELECT COUNT(*), SUM(rows_in), SUM(rows_scored), SUM(rows_rejected), SUM(rows_duplicate), SUM(labels_in),
       SUM(alerts), SUM(late_rows), MIN(started_at), MAX(committed_at)
FROM stream_batches WHERE stream_id = %(stream_id)s;

-- name: decisions
SELECT decision, COUNT(*) FROM scored_transactions WHERE stream_id = %(stream_id)s
GROUP BY decision ORDER BY FIELD(decision, 'APPROVED', 'REVIEW', 'DECLINED');

-- name: alert_reasons
SELECT reasons FROM payment_alerts WHERE stream_id = %(stream_id)s;

-- name: latencies_ms
SELECT TIMESTAMPDIFF(MICROSECOND, kafka_timestamp, committed_at) / 1000
FROM scored_transactions WHERE stream_id = %(stream_id)s;

-- name: rejected_by_reason
SELECT reason_code, COUNT(*) FROM rejected_payments WHERE stream_id = %(stream_id)s
GROUP BY reason_code ORDER BY COUNT(*) DESC, reason_code;
