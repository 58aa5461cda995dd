-- Upload attempts and the objects they are about to store. SQLite flavour
-- of ../postgres/00010_submission_attempts.sql; the two must describe the
-- same data.
--
-- attempt: each claim of a (user, Idempotency-Key) — the first one, or a
-- takeover of one whose heartbeat stopped — gets a fresh token. Heartbeats,
-- the release and the commit name it, so a request that lost its claim
-- can neither commit nor release the claim of the attempt that took over.
--
-- object_sha256: set, under the per-hash lock, just before the attempt
-- stores its photo. The reconciler deletes an evidence object only under
-- the same lock and only when no row and no pending attempt names its
-- hash, so it never deletes an object between its PUT and its commit.

-- +goose Up
ALTER TABLE submissions ADD COLUMN attempt TEXT;
ALTER TABLE submissions ADD COLUMN object_sha256 TEXT;
CREATE INDEX submissions_object ON submissions (object_sha256) WHERE state = 'pending';

-- +goose Down
DROP INDEX submissions_object;
ALTER TABLE submissions DROP COLUMN object_sha256;
ALTER TABLE submissions DROP COLUMN attempt;
