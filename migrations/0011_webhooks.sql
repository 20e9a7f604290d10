-- Outbound webhooks: endpoints per store, the events they were sent, one delivery per (event,
-- endpoint), and every attempt of a delivery.

-- secret_enc / previous_secret_enc are AES-256-GCM (nonce || ciphertext || tag) of the
-- `whsec_...` text, sealed with the credentials key as channel credentials are. While a secret
-- rotates, the previous one keeps signing until previous_secret_until.
CREATE TABLE webhooks (
    id                    bigserial PRIMARY KEY,
    account_id            bigint NOT NULL,
    store_id              bigint NOT NULL,
    url                   text NOT NULL,
    description           text,
    triggers              text[] NOT NULL,
    enabled               boolean NOT NULL DEFAULT true,
    -- Why switchyard disabled it (410 Gone, failing too long); NULL when enabled or disabled by
    -- the merchant.
    disabled_reason       text,
    secret_enc            bytea NOT NULL,
    previous_secret_enc   bytea,
    previous_secret_until timestamptz,
    -- Since when every attempt failed; NULL after a success. Drives the auto-disable rule.
    failing_since         timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (account_id, store_id) REFERENCES stores (account_id, id) ON DELETE CASCADE
);

-- The fan-out looks up a store's enabled endpoints for every event.
CREATE INDEX webhooks_store_enabled ON webhooks (store_id) WHERE enabled;
CREATE INDEX webhooks_account ON webhooks (account_id, id);

-- An event kept for as long as its deliveries need it. outbox_id is the outbox row it came from
-- (NULL for a test send): unique, so relaying a row twice cannot make a second event.
CREATE TABLE webhook_events (
    id         bigserial PRIMARY KEY,
    outbox_id  bigint UNIQUE,
    store_id   bigint NOT NULL,
    type       text NOT NULL,
    -- The `webhook-id` header: one per event, the same on every retry and replay.
    msg_id     text NOT NULL,
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id              bigserial PRIMARY KEY,
    webhook_id      bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        bigint NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'failed')),
    -- Attempts ever made, and attempts since the delivery was last (re)started: the retry
    -- schedule counts the latter, so a replay gets the whole schedule again.
    attempts        integer NOT NULL DEFAULT 0,
    round_attempts  integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_attempt_at timestamptz,
    last_status_code integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, webhook_id)
);

CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_failed ON webhook_deliveries (webhook_id, created_at)
    WHERE status = 'failed';

CREATE TABLE webhook_attempts (
    id               bigserial PRIMARY KEY,
    delivery_id      bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt          integer NOT NULL,
    succeeded        boolean NOT NULL,
    response_code    integer,
    duration_ms      integer NOT NULL,
    -- The start of the answer's body, truncated.
    response_excerpt text,
    -- Why it failed when there was no answer (refused target, timeout, connection error).
    error            text,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, id);
