-- Jobs to enqueue and events to publish, written in the same transaction as the change that
-- caused them; a relay moves them to Redis and deletes them.
CREATE TABLE outbox (
    id         bigserial PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('job', 'event')),
    queue      text,
    payload    jsonb NOT NULL,
    unique_key text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (kind <> 'job' OR queue IS NOT NULL)
);
