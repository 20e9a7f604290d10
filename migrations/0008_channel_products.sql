-- Channel products: each listing a channel sells (a Shopify variant, a WooCommerce product or
-- variation), as last downloaded, mapped to the store's product or kit, with what switchyard
-- last pushed as its stock so sync-stock sends only what changed.

-- Lets a row name a channel together with its store, so a listing cannot be mapped to a product
-- of another store than its channel's.
ALTER TABLE channels ADD CONSTRAINT channels_account_store_id_key UNIQUE (account_id, store_id, id);

CREATE TABLE channel_products (
    id                   bigserial PRIMARY KEY,
    account_id           bigint NOT NULL,
    store_id             bigint NOT NULL,
    channel_id           bigint NOT NULL,
    external_product_id  text NOT NULL,
    -- NULL for a WooCommerce simple product, which has no variation.
    external_variant_id  text,
    -- Shopify sets stock on the inventory item, not on the variant.
    inventory_item_id    text,
    sku                  text,
    title                text NOT NULL,
    image_url            text,
    -- Decimal string as the channel gave it: no float touches money.
    price                text,
    dimensions           jsonb,
    weight               text,
    customs              jsonb,
    -- The channel's own stock figure when last downloaded.
    channel_quantity     integer,
    product_id           bigint,
    last_pushed_quantity integer,
    last_pushed_at       timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (account_id, store_id, channel_id)
        REFERENCES channels (account_id, store_id, id) ON DELETE CASCADE,
    -- Deleting a product unmaps its listings; the listings stay, as the channel still has them.
    FOREIGN KEY (account_id, store_id, product_id)
        REFERENCES products (account_id, store_id, id) ON DELETE SET NULL (product_id),
    UNIQUE NULLS NOT DISTINCT (channel_id, external_product_id, external_variant_id)
);
CREATE INDEX channel_products_channel ON channel_products (channel_id, id);
CREATE INDEX channel_products_product ON channel_products (product_id) WHERE product_id IS NOT NULL;
CREATE INDEX channel_products_store_sku ON channel_products (store_id, sku) WHERE product_id IS NULL;
