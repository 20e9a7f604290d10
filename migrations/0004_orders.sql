-- Imported orders in the unified format, their lines and their status history.

CREATE TABLE orders (
    id                 bigserial PRIMARY KEY,
    account_id         bigint NOT NULL,
    store_id           bigint NOT NULL,
    channel_id         bigint NOT NULL,
    channel_order_id   text NOT NULL,
    order_number       text NOT NULL,
    status             text NOT NULL CHECK (status IN ('unpaid', 'unshipped', 'partially_shipped',
                                                       'shipped', 'cancelled', 'refunded')),
    sync_status        text NOT NULL CHECK (sync_status IN ('pending', 'updated', 'synced',
                                                             'on_hold', 'in_progress', 'excluded',
                                                             'failed')),
    currency           text NOT NULL,
    totals             jsonb NOT NULL,
    customer           jsonb NOT NULL,
    shipping_address   jsonb,
    billing_address    jsonb,
    placed_at          timestamptz NOT NULL,
    paid_at            timestamptz,
    channel_updated_at timestamptz NOT NULL,
    tags               text[] NOT NULL DEFAULT '{}',
    notes              text,
    excluded_reason    text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (account_id, channel_id) REFERENCES channels (account_id, id) ON DELETE CASCADE,
    FOREIGN KEY (account_id, store_id) REFERENCES stores (account_id, id) ON DELETE CASCADE,
    -- Re-importing an order updates it, never duplicates it.
    UNIQUE (channel_id, channel_order_id)
);
-- The list endpoint pages by (updated_at, id) within an account, optionally narrowed by these.
CREATE INDEX orders_account_updated ON orders (account_id, updated_at, id);
CREATE INDEX orders_account_store_updated ON orders (account_id, store_id, updated_at, id);
CREATE INDEX orders_account_channel_updated ON orders (account_id, channel_id, updated_at, id);
CREATE INDEX orders_account_status ON orders (account_id, status, updated_at, id);
CREATE INDEX orders_account_sync_status ON orders (account_id, sync_status, updated_at, id);

CREATE TABLE order_lines (
    id              bigserial PRIMARY KEY,
    order_id        bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    channel_line_id text NOT NULL,
    sku             text,
    title           text NOT NULL,
    quantity        integer NOT NULL CHECK (quantity >= 0),
    -- Decimal strings as the channel gave them: no float ever touches money.
    unit_price      text NOT NULL,
    tax             text NOT NULL,
    product_id      bigint,
    kit_components  jsonb NOT NULL DEFAULT '[]'::jsonb,
    UNIQUE (order_id, channel_line_id)
);

-- What happened to an order and when, as seen from the channel's status.
CREATE TABLE order_events (
    id          bigserial PRIMARY KEY,
    order_id    bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    kind        text NOT NULL,
    from_status text,
    to_status   text,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_events_order ON order_events (order_id, id);
