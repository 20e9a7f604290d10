-- Amazon and eBay sellers are channels too.
ALTER TABLE channels DROP CONSTRAINT channels_kind_check;
ALTER TABLE channels ADD CONSTRAINT channels_kind_check
    CHECK (kind IN ('shopify', 'woocommerce', 'amazon', 'ebay'));
