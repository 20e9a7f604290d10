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

-- Foreign keys made every delivery and every attempt run a row-locking lookup of its parent
-- (FOR KEY SHARE on the endpoint and on the delivery): about a fifth of the database's time per
-- delivery. Integrity holds by construction instead: the fan-out writes deliveries in the
-- transaction that wrote their event and locked their endpoints (FOR KEY SHARE, once per
-- endpoint rather than once per delivery), attempts are written only for deliveries read just
-- before, and events are never deleted while deliveries point at them. Deleting an endpoint
-- still deletes its deliveries and their attempts, once per statement. (An attempt being
-- recorded at the very moment its endpoint is deleted can leave that one attempt row behind;
-- with the foreign key it failed the whole batch of attempts it was written with instead.)
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_webhook_id_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_event_id_fkey;
ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_delivery_id_fkey;

CREATE FUNCTION webhooks_delete_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM webhook_deliveries d USING gone WHERE d.webhook_id = gone.id;
    RETURN NULL;
END $$;
CREATE TRIGGER webhooks_delete_deliveries AFTER DELETE ON webhooks
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
    EXECUTE FUNCTION webhooks_delete_deliveries();

CREATE FUNCTION webhook_deliveries_delete_attempts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM webhook_attempts a USING gone WHERE a.delivery_id = gone.id;
    RETURN NULL;
END $$;
CREATE TRIGGER webhook_deliveries_delete_attempts AFTER DELETE ON webhook_deliveries
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
    EXECUTE FUNCTION webhook_deliveries_delete_attempts();
