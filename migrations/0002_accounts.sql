-- Tenants and their API tokens.
-- Every tenant-owned table carries account_id, and every index the API filters on starts
-- with it, so a query can never be answered from another tenant's rows by accident and stays
-- index-bound however many tenants share the database.

CREATE TABLE accounts (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Bearer tokens are stored as SHA-256 of the token only: a database dump cannot be replayed
-- against the API. `prefix` is the token's first characters, so a person can tell tokens apart.
CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    account_id   bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    prefix       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_account ON api_tokens (account_id);
