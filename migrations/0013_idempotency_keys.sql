-- Saved answers to POST requests that carried an `Idempotency-Key`, so a client that retries
-- after a lost response gets the first answer instead of a second effect. Keys are scoped by the
-- SHA-256 of the caller's bearer token: two callers cannot see or collide with each other's keys.
-- A row with no `status` is a request still in progress.
CREATE TABLE idempotency_keys (
    scope        bytea NOT NULL,
    key          text NOT NULL,
    -- SHA-256 of method, path and body: the same key with another request is refused.
    request_hash bytea NOT NULL,
    status       smallint,
    content_type text,
    body         bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
