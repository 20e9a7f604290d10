-- A listing's weight carries its unit ({"value": "0.78", "unit": "kg"}), as dimensions already
-- do: a bare number means nothing once channels in different units share a store. No weight was
-- stored before this change, so nothing needs converting.
ALTER TABLE channel_products ALTER COLUMN weight TYPE jsonb USING NULL;
