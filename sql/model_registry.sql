-- The model registry's statements (sinks/model_registry.py): an append-only history; the
-- latest row says which model is the champion and which the shadow.

-- name: latest_assignment
SELECT champion, shadow, id FROM model_registry ORDER BY id DESC LIMIT 1;

-- name: history
SELECT id, action, champion, shadow, changed_by, changed_at FROM model_registry ORDER BY id;

-- name: record_assignment
INSERT INTO model_registry (action, champion, shadow, changed_by, changed_at)
VALUES (%(action)s, %(champion)s, %(shadow)s, %(changed_by)s, UTC_TIMESTAMP(6));
