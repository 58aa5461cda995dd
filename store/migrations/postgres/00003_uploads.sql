-- Direct uploads: a photo PUT straight to the photo store (presigned), then
-- completed into evidence. See ../sqlite/00003_uploads.sql.

-- +goose Up
CREATE TABLE uploads (
    id         uuid        NOT NULL PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id),
    object_key text        NOT NULL UNIQUE,
    size       bigint      NOT NULL CHECK (size > 0),
    sha256     text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX uploads_expires ON uploads (expires_at);

-- +goose Down
DROP TABLE uploads;
