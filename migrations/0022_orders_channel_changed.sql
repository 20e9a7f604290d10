-- When switchyard last read each order from its channel (a page or a webhook that held it), so
-- an import re-reading its overlap can skip, without reading it in full, an order it holds as it
-- is. Platforms stamp changes to the second: an order read within the second it changed may have
-- changed again in that same second, so only orders read well after their last change count as
-- held as they are. Null (orders stored before this column) is not yet read so.
ALTER TABLE orders ADD COLUMN channel_read_at timestamptz;

-- The orders of a channel changed on it at or after a time: an import's overlap.
CREATE INDEX orders_channel_changed ON orders (channel_id, channel_updated_at);
