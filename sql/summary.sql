-- Read-only queries behind scripts/print_summary.py.

-- name: totals
SELECT (SELECT COUNT(*) FROM scored_transactions) AS scored,
       (SELECT COUNT(*) FROM rejected_payments)   AS rejected,
       (SELECT COUNT(*) FROM stream_batches)      AS batches;

-- name: rejected_by_reason
SELECT reason_code, COUNT(*) AS messages
FROM rejected_payments
GROUP BY reason_code
ORDER BY messages DESC, reason_code;

-- name: latest_batches
SELECT batch_id, rows_in, rows_scored, rows_rejected,
       TIMESTAMPDIFF(MICROSECOND, started_at, committed_at) / 1e6 AS seconds
FROM stream_batches
ORDER BY committed_at DESC
LIMIT %(limit)s;
