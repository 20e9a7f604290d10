-- The operators' dashboard lists every account's endpoints that are failing or disabled, newest
-- first. Few endpoints are in trouble at a time, so a partial index holds just those; the
-- predicate names failing_since, so recording an attempt that flips it (from working to failing
-- and back, rarely) updates this index, while the common attempt that changes nothing about the
-- endpoint leaves its row alone as before.
CREATE INDEX webhooks_troubled ON webhooks (id) WHERE failing_since IS NOT NULL OR NOT enabled;
