-- The velocity state moved into Spark's state store and a micro-batch's rows stay on the
-- executors: Spark's JDBC writer appends the fraud labels and rejected messages too, before
-- the batch's ledger transaction, so their committed_at is filled by the server when the row
-- is stored. The start-up rehearsal and its table are gone. stream_batches.state_events had
-- the driver's feature-state size; the state's figures are now in the query's progress.

DROP TABLE IF EXISTS scored_transactions_warm_up;

ALTER TABLE fraud_labels
  MODIFY COLUMN committed_at DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6));

ALTER TABLE rejected_payments
  MODIFY COLUMN committed_at DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6));

ALTER TABLE stream_batches
  MODIFY COLUMN state_events BIGINT NULL DEFAULT NULL;
