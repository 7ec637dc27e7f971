-- Content collections: admin-edited JSON documents bound to screens.

-- +goose Up
CREATE TABLE content (
    collection TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    position   INTEGER NOT NULL DEFAULT 0,
    published  INTEGER NOT NULL DEFAULT 0 CHECK (published IN (0, 1)),
    data       TEXT    NOT NULL CHECK (json_valid(data)),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (collection, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX content_collection_position ON content (collection, position);

-- +goose Down
DROP TABLE content;
