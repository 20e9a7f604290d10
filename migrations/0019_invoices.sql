-- Invoices switchyard posts to an accounting connection: what was asked for (the draft, with
-- its amounts exact), where it stands, and the platform's copy once it exists.
--
-- status: pending (waiting for the post-invoice worker), sending (a create may have reached the
-- platform: a retry looks it up by reference before creating again), synced, failed (refused,
-- with the platform's words).
CREATE TABLE invoices (
    id                  bigserial PRIMARY KEY,
    account_id          bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    store_id            bigint NOT NULL,
    connection_id       bigint NOT NULL,
    order_id            bigint,
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sending', 'synced', 'failed')),
    draft               jsonb NOT NULL,
    total               numeric NOT NULL,
    currency            text NOT NULL,
    reference           text NOT NULL,
    -- Sent with every create, so the platform makes one invoice of repeats.
    idempotency_key     text NOT NULL,
    platform_invoice_id text,
    platform_number     text,
    platform_total      numeric,
    error               text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (account_id, store_id) REFERENCES stores (account_id, id) ON DELETE CASCADE,
    FOREIGN KEY (account_id, connection_id)
        REFERENCES accounting_connections (account_id, id) ON DELETE CASCADE,
    UNIQUE (account_id, id)
);
-- One invoice of an order per connection, however often it is asked for.
CREATE UNIQUE INDEX invoices_order ON invoices (connection_id, order_id) WHERE order_id IS NOT NULL;
CREATE INDEX invoices_account ON invoices (account_id, id);

-- The connections that invoice by themselves, which the outbox relay looks up for every batch of
-- order events.
CREATE INDEX accounting_connections_auto ON accounting_connections (store_id)
    WHERE settings->>'auto_invoice' IN ('imported', 'shipped');
