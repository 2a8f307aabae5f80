-- The model's score and the version of the model that gave it.

ALTER TABLE scored_transactions
  ADD COLUMN score          DOUBLE       NULL,
  ADD COLUMN model_version  VARCHAR(96)  CHARACTER SET ascii NULL;

ALTER TABLE scored_transactions_staging
  ADD COLUMN score          DOUBLE       NULL,
  ADD COLUMN model_version  VARCHAR(96)  CHARACTER SET ascii NULL;
