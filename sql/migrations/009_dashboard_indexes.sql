-- Indexes behind the dashboard's queries (dashboard/, sql/dashboard.sql); a test runs EXPLAIN
-- on each of them. Latest alerts over a time range, newest first; rejected messages per
-- reason over a time range (index-only).

ALTER TABLE payment_alerts
  ADD KEY ix_alerts_committed (committed_at);

ALTER TABLE rejected_payments
  ADD KEY ix_rejected_committed_reason (committed_at, reason_code);
