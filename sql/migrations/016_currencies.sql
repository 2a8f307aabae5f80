-- Amounts are stored as sent, in their currency's own minor units (JPY 0 decimals, BHD 3, CLF 4),
-- and beside them in the base currency (currency.base, conf/currency_rates.yaml), which is what
-- the features and rules use. Rows stored before were in the base currency already.

ALTER TABLE scored_transactions
  MODIFY COLUMN amount DECIMAL(19,4) NOT NULL,
  ADD COLUMN amount_base DECIMAL(9,2) NOT NULL DEFAULT 0 AFTER currency;

UPDATE scored_transactions SET amount_base = amount;

ALTER TABLE payment_alerts
  MODIFY COLUMN amount DECIMAL(19,4) NOT NULL,
  ADD COLUMN amount_base DECIMAL(9,2) NOT NULL DEFAULT 0 AFTER currency;

UPDATE payment_alerts SET amount_base = amount;
