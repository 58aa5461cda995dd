-- Credential generations (issue 13, defect 7). A password change bumps
-- users.credential_version; every refresh token records the generation
-- its family began on, and a rotation is stored only while the user's
-- generation is still that one. So a login or refresh that read the old
-- password before a change cannot add a live token after it.

-- +goose Up
ALTER TABLE users ADD COLUMN credential_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE refresh_tokens ADD COLUMN credential_version INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE refresh_tokens DROP COLUMN credential_version;
ALTER TABLE users DROP COLUMN credential_version;
