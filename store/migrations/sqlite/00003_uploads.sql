-- Direct uploads: a photo PUT straight to the photo store (presigned), then
-- completed into evidence. SQLite flavour of ../postgres/00003_uploads.sql.

-- +goose Up
CREATE TABLE uploads (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id),
    object_key TEXT    NOT NULL UNIQUE,
    size       INTEGER NOT NULL CHECK (size > 0),
    sha256     TEXT    NOT NULL CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
    created_at TEXT    NOT NULL,
    expires_at TEXT    NOT NULL
) STRICT;
CREATE INDEX uploads_expires ON uploads (expires_at);

-- +goose Down
DROP TABLE uploads;
