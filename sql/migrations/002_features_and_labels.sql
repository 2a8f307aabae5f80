-- Feature columns (names as conf/payments.yaml's default windows make them) and fraud labels.

ALTER TABLE scored_transactions
  ADD COLUMN during_weekend        TINYINT       NOT NULL DEFAULT 0,
  ADD COLUMN during_night          TINYINT       NOT NULL DEFAULT 0,
  ADD COLUMN cust_count_1d         INT           NOT NULL DEFAULT 0,
  ADD COLUMN cust_mean_amount_1d   DOUBLE        NOT NULL DEFAULT 0,
  ADD COLUMN cust_count_7d         INT           NOT NULL DEFAULT 0,
  ADD COLUMN cust_mean_amount_7d   DOUBLE        NOT NULL DEFAULT 0,
  ADD COLUMN cust_count_30d        INT           NOT NULL DEFAULT 0,
  ADD COLUMN cust_mean_amount_30d  DOUBLE        NOT NULL DEFAULT 0,
  ADD COLUMN cust_count_10m        INT           NOT NULL DEFAULT 0,
  ADD COLUMN cust_sum_amount_10m   DECIMAL(14,2) NOT NULL DEFAULT 0,
  ADD COLUMN cust_count_1h         INT           NOT NULL DEFAULT 0,
  ADD COLUMN cust_sum_amount_1h    DECIMAL(14,2) NOT NULL DEFAULT 0,
  ADD COLUMN term_count_1d         INT           NOT NULL DEFAULT 0,
  ADD COLUMN term_risk_1d          DOUBLE        NOT NULL DEFAULT 0,
  ADD COLUMN term_count_7d         INT           NOT NULL DEFAULT 0,
  ADD COLUMN term_risk_7d          DOUBLE        NOT NULL DEFAULT 0,
  ADD COLUMN term_count_30d        INT           NOT NULL DEFAULT 0,
  ADD COLUMN term_risk_30d         DOUBLE        NOT NULL DEFAULT 0,
  ADD COLUMN is_late               TINYINT       NOT NULL DEFAULT 0;

ALTER TABLE scored_transactions_staging
  ADD COLUMN during_weekend        TINYINT       NOT NULL DEFAULT 0,
  ADD COLUMN during_night          TINYINT       NOT NULL DEFAULT 0,
  ADD COLUMN cust_count_1d         INT           NOT NULL DEFAULT 0,
  ADD COLUMN cust_mean_amount_1d   DOUBLE        NOT NULL DEFAULT 0,
  ADD COLUMN cust_count_7d         INT           NOT NULL DEFAULT 0,
  ADD COLUMN cust_mean_amount_7d   DOUBLE        NOT NULL DEFAULT 0,
  ADD COLUMN cust_count_30d        INT           NOT NULL DEFAULT 0,
  ADD COLUMN cust_mean_amount_30d  DOUBLE        NOT NULL DEFAULT 0,
  ADD COLUMN cust_count_10m        INT           NOT NULL DEFAULT 0,
  ADD COLUMN cust_sum_amount_10m   DECIMAL(14,2) NOT NULL DEFAULT 0,
  ADD COLUMN cust_count_1h         INT           NOT NULL DEFAULT 0,
  ADD COLUMN cust_sum_amount_1h    DECIMAL(14,2) NOT NULL DEFAULT 0,
  ADD COLUMN term_count_1d         INT           NOT NULL DEFAULT 0,
  ADD COLUMN term_risk_1d          DOUBLE        NOT NULL DEFAULT 0,
  ADD COLUMN term_count_7d         INT           NOT NULL DEFAULT 0,
  ADD COLUMN term_risk_7d          DOUBLE        NOT NULL DEFAULT 0,
  ADD COLUMN term_count_30d        INT           NOT NULL DEFAULT 0,
  ADD COLUMN term_risk_30d         DOUBLE        NOT NULL DEFAULT 0,
  ADD COLUMN is_late               TINYINT       NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS fraud_labels (
  transaction_id   VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  customer_id      VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  terminal_id      VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  event_time       DATETIME(6)  NOT NULL,
  is_fraud         TINYINT      NOT NULL,
  labeled_at       DATETIME(6)  NOT NULL,
  kafka_partition  INT          NOT NULL,
  kafka_offset     BIGINT       NOT NULL,
  stream_id        VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  batch_id         BIGINT       NOT NULL,
  committed_at     DATETIME(6)  NOT NULL,
  PRIMARY KEY (transaction_id),
  KEY ix_labels_terminal_time (terminal_id, event_time),
  KEY ix_labels_batch (stream_id, batch_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS fraud_labels_staging (
  stream_id        VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  batch_id         BIGINT       NOT NULL,
  transaction_id   VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  customer_id      VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  terminal_id      VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  event_time       DATETIME(6)  NOT NULL,
  is_fraud         TINYINT      NOT NULL,
  labeled_at       DATETIME(6)  NOT NULL,
  kafka_partition  INT          NOT NULL,
  kafka_offset     BIGINT       NOT NULL,
  KEY ix_labels_staging_batch (stream_id, batch_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE stream_batches
  ADD COLUMN labels_in      INT     NOT NULL DEFAULT 0,
  ADD COLUMN late_rows      INT     NOT NULL DEFAULT 0,
  ADD COLUMN state_events   BIGINT  NOT NULL DEFAULT 0;
