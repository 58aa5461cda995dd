-- Users and refresh tokens (identity). PostgreSQL flavour of
-- ../sqlite/00001_init.sql; the two must describe the same data.
--
-- PostGIS is created here, before any table needs it, so that later
-- migrations can add geometry columns (township boundaries, reaches,
-- evidence points). It needs a role allowed to create the extension
-- (superuser, or the extension pre-installed by the DBA).
--
-- Text keys use COLLATE "C" (bytewise), matching SQLite's BINARY, so that
-- ordering and keyset pagination do not depend on the server's locale and
-- agree across backends.

-- +goose Up
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE users (
    id                  uuid        NOT NULL PRIMARY KEY,
    username            text        NOT NULL,
    -- username with ASCII lower-cased: uniqueness, lookup and order.
    username_key        text        COLLATE "C" NOT NULL UNIQUE,
    display_name        text        NOT NULL DEFAULT '',
    phone               text        NOT NULL DEFAULT '',
    role                text        NOT NULL CHECK (role IN ('admin', 'inspector', 'river_chief', 'township_officer')),
    active              boolean     NOT NULL DEFAULT true,
    password_hash       text        NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    password_changed_at timestamptz
);

CREATE INDEX users_role_username_key ON users (role, username_key);

CREATE TABLE user_townships (
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    township_code text COLLATE "C" NOT NULL,
    PRIMARY KEY (user_id, township_code)
);

-- Who covers a township: scope checks on cases and evidence.
CREATE INDEX user_townships_township ON user_townships (township_code, user_id);

CREATE TABLE refresh_tokens (
    id         uuid        NOT NULL PRIMARY KEY,
    family_id  uuid        NOT NULL,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       bytea       NOT NULL UNIQUE CHECK (octet_length(hash) = 32),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    spent_at   timestamptz,
    revoked_at timestamptz
);

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- +goose Down
-- PostGIS stays: other schemas may use it, and dropping it would destroy
-- their data.
DROP TABLE refresh_tokens;
DROP TABLE user_townships;
DROP TABLE users;
