-- Cheaper commits (measured, bench/): every secondary index of scored_transactions costs
-- time on each of the 200k rows a micro-batch moves.
-- * Alerts are copied from the batch's REVIEW / DECLINED rows: (stream_id, batch_id, decision)
--   finds only those instead of reading back the whole batch.
-- * Queries by decision and time belong to payment_alerts (indexed by decision, time);
--   time ranges over all payments use committed_at (ix_scored_committed).

ALTER TABLE scored_transactions
  DROP KEY ix_scored_batch,
  DROP KEY ix_scored_decision_time,
  DROP KEY ix_scored_event_time,
  ADD KEY ix_scored_batch_decision (stream_id, batch_id, decision);
