-- Saved answers may show secrets (a new account's API token, a webhook's `whsec_` secret, a
-- plugin's signing secret and callback token), so they are sealed with the credentials key from
-- now on, in a column named for it; and keys are scoped to the authenticated caller ("ops",
-- "account:<id>", "plugin:<id>") instead of a hash of the raw `Authorization` header. The rows
-- saved before hold answers in plaintext under the old scopes. They live 24 hours, so they are
-- dropped rather than converted: a retry of one of them runs again.
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys ALTER COLUMN scope TYPE text USING '';
ALTER TABLE idempotency_keys RENAME COLUMN body TO sealed_body;
