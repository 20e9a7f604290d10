-- Channel drift in the stock ledger: when a reconciliation finds a channel holding another figure
-- for a listing than the one switchyard expects (a hand edit in the platform's admin) and sets it
-- back, the correction is a movement of the CHANNEL's figure for that listing, field 'channel',
-- cause 'channel_drift': what the channel held (`found`), what it was set back to (`expected`),
-- and delta = expected - found. It moves none of the product's own quantities, so every sum of a
-- product's 'api' or 'plugin' movements (its quantity) leaves it out by its field.
ALTER TABLE stock_movements
    DROP CONSTRAINT stock_movements_field_check,
    ADD CONSTRAINT stock_movements_field_check CHECK (field IN ('api', 'plugin', 'channel')),
    DROP CONSTRAINT stock_movements_cause_kind_check,
    ADD CONSTRAINT stock_movements_cause_kind_check
        CHECK (cause_kind IN ('order_line', 'order_cancel', 'set', 'adjustment', 'plugin_report',
                              'channel_drift')),
    -- The channel and listing corrected. No foreign keys: the ledger outlives a deleted channel.
    ADD COLUMN channel_id bigint,
    ADD COLUMN channel_product_id bigint,
    ADD COLUMN found integer,
    ADD COLUMN expected integer,
    -- A channel movement names its channel, listing and figures; no other movement has them.
    ADD CONSTRAINT stock_movements_channel_figures CHECK (
        (field = 'channel') = (cause_kind = 'channel_drift')
        AND (field = 'channel') = (channel_id IS NOT NULL AND channel_product_id IS NOT NULL
                                   AND found IS NOT NULL AND expected IS NOT NULL)
    );
-- A channel's recent corrections (`GET /v1/channels/{id}/stock/drift`).
CREATE INDEX stock_movements_channel ON stock_movements (channel_id, id) WHERE channel_id IS NOT NULL;
