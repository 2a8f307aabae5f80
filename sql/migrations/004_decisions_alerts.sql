-- Decisions with reasons, the alerts outbox, and publish markers for the DLQ topic.

ALTER TABLE scored_transactions
  ADD COLUMN decision    VARCHAR(10)  CHARACTER SET ascii NOT NULL DEFAULT 'APPROVED',
  ADD COLUMN score_band  VARCHAR(16)  CHARACTER SET ascii NULL,
  ADD COLUMN reasons     VARCHAR(512) CHARACTER SET ascii NULL,
  ADD KEY ix_scored_decision_time (decision, event_time),
  ADD KEY ix_scored_committed (committed_at);

ALTER TABLE scored_transactions_staging
  ADD COLUMN decision    VARCHAR(10)  CHARACTER SET ascii NOT NULL DEFAULT 'APPROVED',
  ADD COLUMN score_band  VARCHAR(16)  CHARACTER SET ascii NULL,
  ADD COLUMN reasons     VARCHAR(512) CHARACTER SET ascii NULL;

CREATE TABLE IF NOT EXISTS payment_alerts (
  transaction_id  VARCHAR(64)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  customer_id     VARCHAR(64)   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  terminal_id     VARCHAR(64)   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  amount          DECIMAL(9,2)  NOT NULL,
  currency        CHAR(3)       CHARACTER SET ascii NOT NULL,
  event_time      DATETIME(6)   NOT NULL,
  decision        VARCHAR(10)   CHARACTER SET ascii NOT NULL,
  score           DOUBLE        NULL,
  reasons         VARCHAR(512)  CHARACTER SET ascii NULL,
  model_version   VARCHAR(96)   CHARACTER SET ascii NULL,
  stream_id       VARCHAR(64)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  batch_id        BIGINT        NOT NULL,
  committed_at    DATETIME(6)   NOT NULL,
  published_at    DATETIME(6)   NULL,
  PRIMARY KEY (transaction_id),
  KEY ix_alerts_decision_time (decision, committed_at),
  KEY ix_alerts_batch (stream_id, batch_id),
  KEY ix_alerts_customer (customer_id, event_time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE rejected_payments
  ADD COLUMN published_at DATETIME(6) NULL;

ALTER TABLE stream_batches
  ADD COLUMN rows_duplicate  INT  NOT NULL DEFAULT 0,
  ADD COLUMN alerts          INT  NOT NULL DEFAULT 0,
  ADD COLUMN latency_p50_ms  INT  NULL,
  ADD COLUMN latency_p95_ms  INT  NULL,
  ADD COLUMN latency_max_ms  INT  NULL;
