-- Accounting connections: a store's organisation on an accounting platform (Xero, Sage), reached
-- with OAuth 2.0. The app's client credentials and the grant's tokens are sealed like channel
-- credentials (AES-256-GCM under the configured key), in two columns because they change apart:
-- the client credentials when the connection is made, the tokens on every refresh.
CREATE TABLE accounting_connections (
    id               bigserial PRIMARY KEY,
    account_id       bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    store_id         bigint NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('xero', 'sage')),
    name             text NOT NULL,
    -- Where the platform is reached; NULL for the real platform's own hosts.
    base_url         text,
    client_enc       bytea NOT NULL,
    -- NULL until the authorization step has completed.
    tokens_enc       bytea,
    -- When the sealed access token expires; refreshed ahead of it.
    access_expires_at timestamptz,
    -- The organisation the grant reaches: Xero's tenant id, Sage's business id.
    organisation_id  text,
    organisation_name text,
    status           text NOT NULL DEFAULT 'awaiting_authorization'
                     CHECK (status IN ('awaiting_authorization', 'connected', 'needs_reauth')),
    status_reason    text,
    settings         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (account_id, store_id) REFERENCES stores (account_id, id) ON DELETE CASCADE,
    UNIQUE (account_id, id)
);
CREATE INDEX accounting_connections_account_store ON accounting_connections (account_id, store_id, id);

-- The `state` of an authorization under way: single use, short-lived, stored as its SHA-256 so a
-- database reader cannot complete someone's authorization.
CREATE TABLE accounting_authorizations (
    state_hash    bytea PRIMARY KEY,
    connection_id bigint NOT NULL REFERENCES accounting_connections (id) ON DELETE CASCADE,
    redirect_uri  text NOT NULL,
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz
);
CREATE INDEX accounting_authorizations_connection ON accounting_authorizations (connection_id);
