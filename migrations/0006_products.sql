-- The main catalogue of a store: products and kits, with the two stock figures the available
-- quantity is made of (DESIGN.md "Domain model"). The quantity columns are never written on
-- their own: every change is a row of `stock_movements` (next migration) in the same
-- transaction, so each column always equals the sum of its product's movements.

CREATE TABLE products (
    id              bigserial PRIMARY KEY,
    account_id      bigint NOT NULL,
    store_id        bigint NOT NULL,
    sku             text NOT NULL CHECK (sku <> ''),
    title           text NOT NULL,
    -- Set through the API (absolute or adjusted) and decremented by imported orders; may go
    -- below zero when a channel oversells, which is why the available quantity clamps at zero.
    api_quantity    integer NOT NULL DEFAULT 0,
    -- Reported by fulfilment-centre plugins; kept apart so neither source overwrites the other.
    plugin_quantity integer NOT NULL DEFAULT 0,
    is_kit          boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (account_id, store_id) REFERENCES stores (account_id, id) ON DELETE CASCADE,
    -- Orders and listings match products by SKU within a store.
    UNIQUE (store_id, sku),
    -- Targets of the composite foreign keys below and in later migrations, which keep rows that
    -- point at a product inside its account (and, where it matters, its store and kind).
    UNIQUE (account_id, id),
    UNIQUE (account_id, store_id, id),
    UNIQUE (account_id, store_id, id, is_kit)
);
CREATE INDEX products_account_store ON products (account_id, store_id, id);

-- A kit's components and how many of each one kit takes (a kit of 2 x A + 1 x B).
--
-- The flag columns are copies of each side's `products.is_kit`, kept by ON UPDATE CASCADE, so
-- the CHECKs hold the rule "a kit's component is never a kit" in the schema itself: turning a
-- component into a kit (or a kit with components back into a product) fails instead of making
-- kit arithmetic recursive. Both sides share the row's account and store.
CREATE TABLE kit_components (
    account_id       bigint NOT NULL,
    store_id         bigint NOT NULL,
    kit_id           bigint NOT NULL,
    kit_is_kit       boolean NOT NULL DEFAULT true CHECK (kit_is_kit),
    component_id     bigint NOT NULL,
    component_is_kit boolean NOT NULL DEFAULT false CHECK (NOT component_is_kit),
    quantity         integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (kit_id, component_id),
    CHECK (kit_id <> component_id),
    FOREIGN KEY (account_id, store_id, kit_id, kit_is_kit)
        REFERENCES products (account_id, store_id, id, is_kit) ON DELETE CASCADE ON UPDATE CASCADE,
    -- Deleting a product that a kit still uses is refused (a kit silently losing a component
    -- would look more available than it is). Checked at commit, so deleting a whole store, kits
    -- and components together, passes once the kits' rows are gone too.
    FOREIGN KEY (account_id, store_id, component_id, component_is_kit)
        REFERENCES products (account_id, store_id, id, is_kit) ON UPDATE CASCADE
        DEFERRABLE INITIALLY DEFERRED
);
-- "Which kits contain this product", asked on every stock change.
CREATE INDEX kit_components_component ON kit_components (component_id, kit_id);
