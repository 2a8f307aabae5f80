-- Which stream (streaming query id) each checkpoint location holds, so that a start can tell a
-- lost or replaced checkpoint from a new one (sinks/checkpoint_guard.py).

CREATE TABLE IF NOT EXISTS stream_checkpoints (
  location_key   CHAR(64)      CHARACTER SET ascii NOT NULL,  -- sha256 of the location
  location       VARCHAR(2048) NOT NULL,
  stream_id      VARCHAR(64)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  registered_at  DATETIME(6)   NOT NULL,
  PRIMARY KEY (location_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
