-- The batch's decision counts and score histogram (stream_batches) are read from its own rows
-- in the commit transaction: (stream_id, batch_id, decision, score) answers that from the index
-- alone. scored_at is filled by the server when the row is stored (UTC), not sent per row.

ALTER TABLE scored_transactions
  DROP KEY ix_scored_batch_decision,
  ADD KEY ix_scored_batch_decision_score (stream_id, batch_id, decision, score),
  MODIFY COLUMN scored_at DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6));
