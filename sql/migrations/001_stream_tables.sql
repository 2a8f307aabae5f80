-- Core tables of the scoring stream. Runs on MariaDB 10.11+ and MySQL 8.
-- Exactly-once effect: each micro-batch is staged, then moved into the final tables
-- and recorded in stream_batches in ONE transaction; a replayed batch finds its
-- ledger row and is skipped, and final tables are keyed so a row can't land twice.

CREATE TABLE IF NOT EXISTS stream_batches (
  stream_id      VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  batch_id       BIGINT       NOT NULL,
  rows_in        INT          NOT NULL,
  rows_scored    INT          NOT NULL,
  rows_rejected  INT          NOT NULL,
  started_at     DATETIME(6)  NOT NULL,
  committed_at   DATETIME(6)  NOT NULL,
  PRIMARY KEY (stream_id, batch_id),
  KEY ix_stream_batches_committed (committed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS scored_transactions (
  transaction_id   VARCHAR(64)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  customer_id      VARCHAR(64)   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  terminal_id      VARCHAR(64)   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  amount           DECIMAL(9,2)  NOT NULL,
  currency         CHAR(3)       CHARACTER SET ascii NOT NULL,
  event_time       DATETIME(6)   NOT NULL,
  kafka_partition  INT           NOT NULL,
  kafka_offset     BIGINT        NOT NULL,
  kafka_timestamp  DATETIME(6)   NOT NULL,
  stream_id        VARCHAR(64)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  batch_id         BIGINT        NOT NULL,
  committed_at     DATETIME(6)   NOT NULL,
  PRIMARY KEY (transaction_id),
  KEY ix_scored_customer_time (customer_id, event_time),
  KEY ix_scored_event_time (event_time),
  KEY ix_scored_batch (stream_id, batch_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS scored_transactions_staging (
  stream_id        VARCHAR(64)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  batch_id         BIGINT        NOT NULL,
  transaction_id   VARCHAR(64)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  customer_id      VARCHAR(64)   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  terminal_id      VARCHAR(64)   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  amount           DECIMAL(9,2)  NOT NULL,
  currency         CHAR(3)       CHARACTER SET ascii NOT NULL,
  event_time       DATETIME(6)   NOT NULL,
  kafka_partition  INT           NOT NULL,
  kafka_offset     BIGINT        NOT NULL,
  kafka_timestamp  DATETIME(6)   NOT NULL,
  KEY ix_scored_staging_batch (stream_id, batch_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS rejected_payments (
  kafka_topic       VARCHAR(249)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  kafka_partition   INT           NOT NULL,
  kafka_offset      BIGINT        NOT NULL,
  kafka_timestamp   DATETIME(6)   NOT NULL,
  reason_code       VARCHAR(32)   CHARACTER SET ascii NOT NULL,
  reason_message    VARCHAR(512)  NOT NULL,
  raw_value_prefix  VARBINARY(1024) NULL,
  raw_value_length  INT           NOT NULL,
  stream_id         VARCHAR(64)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  batch_id          BIGINT        NOT NULL,
  committed_at      DATETIME(6)   NOT NULL,
  PRIMARY KEY (kafka_topic, kafka_partition, kafka_offset),
  KEY ix_rejected_reason_time (reason_code, committed_at),
  KEY ix_rejected_batch (stream_id, batch_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS rejected_payments_staging (
  stream_id         VARCHAR(64)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  batch_id          BIGINT        NOT NULL,
  kafka_topic       VARCHAR(249)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  kafka_partition   INT           NOT NULL,
  kafka_offset      BIGINT        NOT NULL,
  kafka_timestamp   DATETIME(6)   NOT NULL,
  reason_code       VARCHAR(32)   CHARACTER SET ascii NOT NULL,
  reason_message    VARCHAR(512)  NOT NULL,
  raw_value_prefix  VARBINARY(1024) NULL,
  raw_value_length  INT           NOT NULL,
  KEY ix_rejected_staging_batch (stream_id, batch_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
