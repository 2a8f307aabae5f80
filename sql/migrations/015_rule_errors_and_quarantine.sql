-- Rules that raised for a payment (counted as not fired: decisions/rules.py) and rows the
-- database refused, quarantined in rejected_payments as UNWRITABLE_RECORD (sinks/jdbc.py):
-- recorded per payment and counted per batch, so that neither halts the stream unseen.

ALTER TABLE scored_transactions
  ADD COLUMN rule_errors VARCHAR(512) CHARACTER SET ascii COLLATE ascii_general_ci NULL;

ALTER TABLE stream_batches
  ADD COLUMN rows_rule_errors INT NOT NULL DEFAULT 0,
  ADD COLUMN rows_quarantined INT NOT NULL DEFAULT 0;
