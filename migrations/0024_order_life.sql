-- The order's whole life (docs/order-states.md): who decided an order's hold or exclusion, the
-- notes and tags callers add, and sync status moves in the order's history.

-- Whose decision holds or excludes the order, or included it by hand: 'channel' (its settings or
-- its status, decided afresh on each import), 'rule' (a plugin rule) or 'user' (an API caller,
-- which no import overrides).
ALTER TABLE orders
    ADD COLUMN sync_set_by text CHECK (sync_set_by IN ('channel', 'rule', 'user')),
    -- Tags callers added, kept apart from the channel's like `rule_tags`, so a re-import keeps them.
    ADD COLUMN user_tags text[] NOT NULL DEFAULT '{}';
UPDATE orders SET sync_set_by = CASE WHEN rule_status IS NOT NULL THEN 'rule' ELSE 'channel' END
WHERE sync_status IN ('on_hold', 'excluded');

-- Notes callers add to an order, beside the channel's own note (`orders.notes`).
CREATE TABLE order_notes (
    id         bigserial PRIMARY KEY,
    order_id   bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    body       text NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_notes_order ON order_notes (order_id, id);

-- The history records sync status moves too: from and to, and what was said (a reason, a note).
ALTER TABLE order_events
    ADD COLUMN from_sync_status text,
    ADD COLUMN to_sync_status   text,
    ADD COLUMN detail           text;
