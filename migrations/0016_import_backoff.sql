-- A failing channel's import backs off as one, whichever jobs ask for it (the timer, webhooks,
-- manual imports): the runs failed in a row since its last success, the time before which the
-- platform is not called again, and the job that makes that next attempt.
ALTER TABLE channel_import_state
    ADD COLUMN failures  integer NOT NULL DEFAULT 0,
    ADD COLUMN retry_at  timestamptz,
    ADD COLUMN retry_job text;
