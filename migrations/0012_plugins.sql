-- Fulfilment-centre plugins of a store, the rules that route imported orders to them, and where
-- each order was routed.

-- The signing secret is AES-256-GCM sealed like channel credentials (the key lives in
-- configuration); the callback token, like API tokens, is kept only as its SHA-256.
CREATE TABLE plugins (
    id                  bigserial PRIMARY KEY,
    account_id          bigint NOT NULL,
    store_id            bigint NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('http')),
    name                text NOT NULL,
    endpoint_url        text NOT NULL,
    signing_secret_enc  bytea NOT NULL,
    callback_token_hash bytea NOT NULL UNIQUE,
    callback_prefix     text NOT NULL,
    active              boolean NOT NULL DEFAULT true,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (account_id, store_id) REFERENCES stores (account_id, id) ON DELETE CASCADE,
    -- Lets a rule name a plugin together with its store, so a rule cannot route to another
    -- store's plugin.
    UNIQUE (account_id, store_id, id)
);
CREATE INDEX plugins_account_store ON plugins (account_id, store_id, id);

-- A stock report a plugin sent with an idempotency key: a replay finds it here and changes
-- nothing, even after later reports moved the quantity on.
CREATE TABLE plugin_stock_reports (
    plugin_id   bigint NOT NULL REFERENCES plugins (id) ON DELETE CASCADE,
    report_key  text NOT NULL,
    product_id  bigint NOT NULL,
    quantity    integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plugin_id, report_key)
);

-- A store's rules, evaluated in (position, id) order at import. `condition` and `action` are
-- the domain's tagged JSON (src/domain/plugin_rules.rs); a routing action's plugin is copied to
-- `plugin_id` so the schema keeps it inside the rule's store, and a plugin that rules still
-- route to cannot be deleted.
CREATE TABLE plugin_rules (
    id         bigserial PRIMARY KEY,
    account_id bigint NOT NULL,
    store_id   bigint NOT NULL,
    position   integer NOT NULL,
    name       text NOT NULL,
    condition  jsonb NOT NULL,
    action     jsonb NOT NULL,
    plugin_id  bigint,
    active     boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (account_id, store_id) REFERENCES stores (account_id, id) ON DELETE CASCADE,
    FOREIGN KEY (account_id, store_id, plugin_id) REFERENCES plugins (account_id, store_id, id),
    CHECK ((action->>'type' = 'send_to_plugin') = (plugin_id IS NOT NULL))
);
CREATE INDEX plugin_rules_store ON plugin_rules (store_id, position, id);

-- Where an order was routed. `rules_applied_at` marks that the rules ran for the order (once,
-- when it first became work), so a re-import never routes it twice; `routed_at` is when it was
-- handed to the plugin's queue; `plugin_reference` is the plugin's own id for it, once known.
-- `rule_tags` and `rule_status` are what rules added, kept apart from the channel's data so a
-- re-import neither mistakes them for a change on the channel nor drops them.
ALTER TABLE orders
    ADD COLUMN plugin_id        bigint REFERENCES plugins (id) ON DELETE SET NULL,
    ADD COLUMN plugin_reference text,
    ADD COLUMN routed_at        timestamptz,
    ADD COLUMN rules_applied_at timestamptz,
    ADD COLUMN rule_tags        text[] NOT NULL DEFAULT '{}',
    ADD COLUMN rule_status      text CHECK (rule_status IN ('excluded', 'on_hold'));
CREATE INDEX orders_plugin ON orders (plugin_id) WHERE plugin_id IS NOT NULL;
