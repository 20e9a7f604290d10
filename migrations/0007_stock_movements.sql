-- The stock ledger: one append-only row per change of a product's API or plugin quantity.
--
-- A movement is unique on its cause (an order line, a cancelled order line, an adjustment's
-- idempotency key, a plugin report), so a re-imported order, a retried job or a replayed request
-- finds its movement already there and changes nothing: stock is never counted twice. The
-- product's quantity column moves in the same transaction, under the product's row lock, so
-- per product and field the ids are in the order the movements were applied and a running sum
-- over them is the quantity after each one.
CREATE TABLE stock_movements (
    id         bigserial PRIMARY KEY,
    account_id bigint NOT NULL,
    product_id bigint NOT NULL,
    field      text NOT NULL CHECK (field IN ('api', 'plugin')),
    delta      integer NOT NULL,
    cause_kind text NOT NULL CHECK (cause_kind IN ('order_line', 'order_cancel', 'set',
                                                   'adjustment', 'plugin_report')),
    cause_id   text NOT NULL,
    -- The order of an order movement, so a cancellation finds exactly what the order took even
    -- after its lines were edited. No foreign key: the ledger outlives a deleted order.
    order_id   bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (account_id, product_id) REFERENCES products (account_id, id) ON DELETE CASCADE,
    UNIQUE (product_id, field, cause_kind, cause_id)
);
CREATE INDEX stock_movements_product ON stock_movements (product_id, id);
CREATE INDEX stock_movements_order ON stock_movements (order_id) WHERE order_id IS NOT NULL;
