-- A transaction's labels are all kept, one row per label message (a chargeback, then its
-- reversal): the current label is the latest message (labels are keyed by transaction_id, so a
-- transaction's labels share a partition and arrive in offset order), as the terminal-risk
-- features count them (java/velocity-state, TerminalRiskProcessor).

ALTER TABLE fraud_labels
  DROP PRIMARY KEY,
  ADD PRIMARY KEY (transaction_id, kafka_partition, kafka_offset);

CREATE OR REPLACE VIEW current_fraud_labels AS
SELECT l.*
FROM fraud_labels l
WHERE NOT EXISTS (
  SELECT 1 FROM fraud_labels later
  WHERE later.transaction_id = l.transaction_id
    AND (later.kafka_partition, later.kafka_offset) > (l.kafka_partition, l.kafka_offset)
);
