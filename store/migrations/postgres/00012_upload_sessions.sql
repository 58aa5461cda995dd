-- Direct-upload sessions end: completed_at marks one turned into
-- evidence (it then only replays its completion, until expires_at), and
-- the open-session indexes let the caps count open sessions per user and
-- in all. See ../sqlite/00012_upload_sessions.sql.
--
-- Sessions made before this migration were given 30 days; they keep them.

-- +goose Up
ALTER TABLE uploads ADD COLUMN completed_at timestamptz;
CREATE INDEX uploads_open_user ON uploads (user_id, created_at) WHERE completed_at IS NULL;
CREATE INDEX uploads_open ON uploads (created_at) WHERE completed_at IS NULL;

-- +goose Down
DROP INDEX uploads_open;
DROP INDEX uploads_open_user;
ALTER TABLE uploads DROP COLUMN completed_at;
