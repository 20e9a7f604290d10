-- The webhook fan-out hands its deliveries' jobs straight to Redis after its commit. So that a
-- crash between that commit and the push loses nothing, the same transaction leaves one `jobs`
-- row (a JSON array of job payloads for `queue`) that no relay may take before available_at;
-- the relay deletes it once the push succeeded, and any relay pushes it after available_at
-- otherwise.
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('job', 'jobs', 'event'));
ALTER TABLE outbox DROP CONSTRAINT outbox_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_check CHECK (kind = 'event' OR queue IS NOT NULL);
ALTER TABLE outbox ADD COLUMN available_at timestamptz;

-- Recording an attempt rewrites its delivery's state. An index that names `status` (as the
-- partial index of failed deliveries did) makes every such update write new index entries for
-- every index of the table; without one the update stays on its page (a HOT update). Recovering
-- failed deliveries since a time reads this index instead and filters on status.
DROP INDEX webhook_deliveries_failed;
CREATE INDEX webhook_deliveries_by_webhook_time ON webhook_deliveries (webhook_id, created_at);
ALTER TABLE webhook_deliveries SET (fillfactor = 80);
