-- Explained alerts (udfs/explain.py): a REVIEW/DECLINED payment's three largest feature
-- contributions to its score, 'name:+0.123,...' (tree SHAP values), beside its reasons.

ALTER TABLE scored_transactions
  ADD COLUMN top_features VARCHAR(255) CHARACTER SET ascii NULL;

ALTER TABLE payment_alerts
  ADD COLUMN top_features VARCHAR(255) CHARACTER SET ascii NULL;
