-- Fulfilments (shipments) of imported orders, to be pushed to the order's channel, and their
-- lines. A fulfilment moves pending -> sending -> synced | failed; `sending` means a push may
-- already have reached the channel, so the next attempt asks the channel before pushing again.

CREATE TABLE fulfilments (
    id                    bigserial PRIMARY KEY,
    account_id            bigint NOT NULL,
    store_id              bigint NOT NULL,
    order_id              bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    status                text NOT NULL CHECK (status IN ('pending', 'sending', 'synced', 'failed')),
    carrier               text,
    tracking_number       text,
    tracking_url          text,
    -- What the channel calls it once synced (a Shopify fulfillment id, a WooCommerce tracking id).
    channel_fulfilment_id text,
    -- The channel's words when it refused, or why switchyard gave up.
    failure_reason        text,
    -- Push attempts started (each one that moved or found the row in `sending`).
    push_attempts         integer NOT NULL DEFAULT 0,
    -- The create request's `Idempotency-Key`: a retried POST answers the fulfilment it made.
    idempotency_key       text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    synced_at             timestamptz,
    FOREIGN KEY (account_id, store_id) REFERENCES stores (account_id, id) ON DELETE CASCADE,
    CONSTRAINT fulfilments_idempotency_key UNIQUE (account_id, idempotency_key)
);
CREATE INDEX fulfilments_order ON fulfilments (order_id, id);
CREATE INDEX fulfilments_account ON fulfilments (account_id, id);

-- The channel line id and SKU are copied from the order line: an order edited on the channel may
-- lose a line, and the shipment must still say what it shipped.
CREATE TABLE fulfilment_lines (
    fulfilment_id   bigint NOT NULL REFERENCES fulfilments (id) ON DELETE CASCADE,
    order_line_id   bigint REFERENCES order_lines (id) ON DELETE SET NULL,
    channel_line_id text NOT NULL,
    sku             text,
    quantity        integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (fulfilment_id, channel_line_id)
);
CREATE INDEX fulfilment_lines_order_line ON fulfilment_lines (order_line_id);
