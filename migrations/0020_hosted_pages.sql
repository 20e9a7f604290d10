-- Hosted pages: a branded, single-use page on which a provider's customer connects their own
-- sales channel, or their accounting package, to a store. The link's token is stored as its SHA-256 only: the link is shown
-- once, at creation, and a database reader cannot use one.
CREATE TABLE hosted_pages (
    id            bigserial PRIMARY KEY,
    account_id    bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    store_id      bigint NOT NULL,
    token_hash    bytea NOT NULL UNIQUE,
    -- The channel kinds offered, in the order the page shows them, then the accounting
    -- platforms.
    channels      text[] NOT NULL,
    accounting    text[] NOT NULL DEFAULT '{}',
    branding      jsonb NOT NULL,
    -- Per channel setting: its preset value, and whether the customer sees and may change it.
    inputs        jsonb NOT NULL,
    return_url    text,
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'completed', 'revoked')),
    expires_at    timestamptz NOT NULL,
    -- What the customer connected, once completed: a channel, or an accounting connection.
    channel_id    bigint REFERENCES channels (id) ON DELETE SET NULL,
    accounting_connection_id bigint REFERENCES accounting_connections (id) ON DELETE SET NULL,
    completed_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (account_id, store_id) REFERENCES stores (account_id, id) ON DELETE CASCADE
);
CREATE INDEX hosted_pages_account ON hosted_pages (account_id, id);

-- A platform authorization begun from a hosted page (Shopify's OAuth, WooCommerce's key
-- granting): single use, short-lived, stored as the SHA-256 of its `state`, with what the
-- customer chose on the page before leaving it.
CREATE TABLE hosted_page_authorizations (
    state_hash  bytea PRIMARY KEY,
    page_id     bigint NOT NULL REFERENCES hosted_pages (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('shopify', 'woocommerce')),
    base_url    text NOT NULL,
    settings    jsonb NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX hosted_page_authorizations_page ON hosted_page_authorizations (page_id);

-- An accounting platform's authorization begun from a hosted page goes through the accounting
-- connections' own callback, which completes the page.
ALTER TABLE accounting_authorizations
    ADD COLUMN hosted_page_id bigint REFERENCES hosted_pages (id) ON DELETE CASCADE;
