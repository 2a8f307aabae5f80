-- Send-to-commit latency can exceed INT milliseconds (about 24 days) when old data is replayed.

ALTER TABLE stream_batches
  MODIFY COLUMN latency_p50_ms BIGINT NULL,
  MODIFY COLUMN latency_p95_ms BIGINT NULL,
  MODIFY COLUMN latency_max_ms BIGINT NULL;
