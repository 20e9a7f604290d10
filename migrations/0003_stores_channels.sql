-- Stores (a brand or a customer) and the sales channels connected to them, with each channel's
-- import state.

CREATE TABLE stores (
    id         bigserial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, name),
    -- Lets channels reference (account_id, id) so a channel cannot sit in another tenant's store.
    UNIQUE (account_id, id)
);

-- credentials_enc is AES-256-GCM (nonce || ciphertext || tag) of the credentials' JSON; the key
-- lives in configuration, never in the database.
CREATE TABLE channels (
    id              bigserial PRIMARY KEY,
    account_id      bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    store_id        bigint NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('shopify', 'woocommerce')),
    name            text NOT NULL,
    base_url        text NOT NULL,
    credentials_enc bytea NOT NULL,
    settings        jsonb NOT NULL DEFAULT '{}'::jsonb,
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (account_id, store_id) REFERENCES stores (account_id, id) ON DELETE CASCADE,
    UNIQUE (account_id, id)
);
CREATE INDEX channels_account_store ON channels (account_id, store_id, id);
CREATE INDEX channels_active ON channels (id) WHERE active;

-- One row per channel: where its order import resumes and how the last runs went.
CREATE TABLE channel_import_state (
    channel_id      bigint PRIMARY KEY REFERENCES channels (id) ON DELETE CASCADE,
    cursor          jsonb,
    last_run_at     timestamptz,
    last_success_at timestamptz,
    last_error      text,
    orders_imported bigint NOT NULL DEFAULT 0
);
