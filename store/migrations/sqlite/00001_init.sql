-- Users and refresh tokens (identity). SQLite flavour of
-- ../postgres/00001_init.sql; the two must describe the same data.
--
-- STRICT tables make SQLite refuse a value of the wrong type instead of
-- storing it silently. Times are TEXT in a fixed-width UTC form
-- (2006-01-02T15:04:05.000000Z) so that text order is time order.
-- Text keys compare bytewise (BINARY), matching COLLATE "C" in PostgreSQL,
-- so both backends sort and paginate identically.

-- +goose Up
CREATE TABLE users (
    id                  TEXT    NOT NULL PRIMARY KEY,
    username            TEXT    NOT NULL,
    -- username with ASCII lower-cased: uniqueness, lookup and order.
    username_key        TEXT    NOT NULL UNIQUE,
    display_name        TEXT    NOT NULL DEFAULT '',
    phone               TEXT    NOT NULL DEFAULT '',
    role                TEXT    NOT NULL CHECK (role IN ('admin', 'inspector', 'river_chief', 'township_officer')),
    active              INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    password_hash       TEXT    NOT NULL DEFAULT '',
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL,
    password_changed_at TEXT
) STRICT;

CREATE INDEX users_role_username_key ON users (role, username_key);

CREATE TABLE user_townships (
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    township_code TEXT NOT NULL,
    PRIMARY KEY (user_id, township_code)
) STRICT, WITHOUT ROWID;

-- Who covers a township: scope checks on cases and evidence.
CREATE INDEX user_townships_township ON user_townships (township_code, user_id);

CREATE TABLE refresh_tokens (
    id         TEXT NOT NULL PRIMARY KEY,
    family_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    spent_at   TEXT,
    revoked_at TEXT
) STRICT;

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- +goose Down
DROP TABLE refresh_tokens;
DROP TABLE user_townships;
DROP TABLE users;
