-- The thumbnail worker's record of failed attempts, so that photos whose
-- previews cannot be made back off and are given up on instead of being
-- retried, oldest first, every sweep. SQLite flavour of
-- ../postgres/00011_thumbnail_tries.sql. (ADD COLUMN checks its CHECK
-- constraints against the existing rows, which the defaults pass.)

-- +goose Up
ALTER TABLE evidence ADD COLUMN thumbnail_attempts INTEGER NOT NULL DEFAULT 0 CHECK (thumbnail_attempts >= 0);
ALTER TABLE evidence ADD COLUMN thumbnail_next_at TEXT;
ALTER TABLE evidence ADD COLUMN thumbnail_error TEXT NOT NULL DEFAULT '';
ALTER TABLE evidence ADD COLUMN thumbnail_gave_up TEXT CHECK (thumbnail_gave_up IN ('failed', 'unsupported'));
-- The queue: photos not given up on, by set of sizes, fewest failures
-- first. The predicate must match the one in the store's query word for
-- word.
DROP INDEX evidence_thumbnails;
CREATE INDEX evidence_thumbnails ON evidence (thumbnails, thumbnail_attempts, received_at, id)
    WHERE content_type IN ('image/jpeg', 'image/png', 'image/webp') AND thumbnail_gave_up IS NULL;

-- +goose Down
DROP INDEX evidence_thumbnails;
CREATE INDEX evidence_thumbnails ON evidence (thumbnails, received_at, id)
    WHERE content_type IN ('image/jpeg', 'image/png', 'image/webp');
ALTER TABLE evidence DROP COLUMN thumbnail_gave_up;
ALTER TABLE evidence DROP COLUMN thumbnail_error;
ALTER TABLE evidence DROP COLUMN thumbnail_next_at;
ALTER TABLE evidence DROP COLUMN thumbnail_attempts;
