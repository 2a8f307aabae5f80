-- Labels from the dashboard (dashboard/labels.py): who gave a label, when a person did (the
-- dashboard's user name, the label contract's optional labeled_by); NULL for a system's label.

ALTER TABLE fraud_labels
  ADD COLUMN labeled_by VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL AFTER labeled_at;

-- A view's `l.*` is expanded when it is created: recreated to show the new column.
CREATE OR REPLACE VIEW current_fraud_labels AS
SELECT l.*
FROM fraud_labels l
WHERE NOT EXISTS (
  SELECT 1 FROM fraud_labels later
  WHERE later.transaction_id = l.transaction_id
    AND (later.kafka_partition, later.kafka_offset) > (l.kafka_partition, l.kafka_offset)
);
