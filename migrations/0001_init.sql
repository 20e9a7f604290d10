-- switchyard's first migration: a key/value table for facts about the installation itself.
-- Domain tables arrive with the features that need them, one migration each.
CREATE TABLE switchyard_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
