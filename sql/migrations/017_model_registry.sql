-- The model registry (model/registry.py, python -m model): an append-only history of which
-- artifact is the champion (scores and decides) and which the shadow (scored beside it, never
-- used for a decision). The job reads the latest assignment before each micro-batch (hot swap);
-- a rollback is a new row naming the champion before, so nothing is ever rewritten.

CREATE TABLE model_registry (
  id          BIGINT       NOT NULL AUTO_INCREMENT,
  action      VARCHAR(16)  CHARACTER SET ascii NOT NULL,   -- promote | shadow | unshadow | rollback
  champion    VARCHAR(96)  CHARACTER SET ascii NOT NULL,   -- the champion from this row on
  shadow      VARCHAR(96)  CHARACTER SET ascii NULL,       -- the shadow from this row on (NULL: none)
  changed_by  VARCHAR(128) NOT NULL,
  changed_at  DATETIME(6)  NOT NULL,
  PRIMARY KEY (id)
);

-- The shadow model's score of each payment, beside the champion's.
ALTER TABLE scored_transactions
  ADD COLUMN shadow_score         DOUBLE      NULL,
  ADD COLUMN shadow_model_version VARCHAR(96) CHARACTER SET ascii NULL;

ALTER TABLE stream_batches
  ADD COLUMN shadow_model_version VARCHAR(96) CHARACTER SET ascii NULL;
