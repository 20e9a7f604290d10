-- A channel's circuit breaker (README "How orders are imported"): after enough failed
-- import runs in a row it opens, and no import calls the platform before `retry_at` (the next
-- probe); then one import probes (half open), and its success closes the breaker again.
-- `breaker_opened_at` is when it last opened from closed, kept through failed probes.
ALTER TABLE channel_import_state
    ADD COLUMN breaker           text NOT NULL DEFAULT 'closed'
                                 CHECK (breaker IN ('closed', 'open', 'half_open')),
    ADD COLUMN breaker_opened_at timestamptz;

-- The channels whose breaker is not closed, counted when /metrics is scraped.
CREATE INDEX channel_import_state_breaker ON channel_import_state (breaker)
    WHERE breaker <> 'closed';
