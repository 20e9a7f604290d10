-- An import reads which of a channel's orders it already holds as they are (changed on the
-- channel at or after its window's start), so it reads only the others again.
CREATE INDEX orders_channel_changed ON orders (channel_id, channel_updated_at);
