-- Reviews of evidence: records beside the evidence, never edits of it.
-- SQLite flavour of ../postgres/00006_reviews.sql.

-- +goose Up
CREATE TABLE evidence_reviews (
    id          TEXT NOT NULL PRIMARY KEY,
    evidence_id TEXT NOT NULL REFERENCES evidence (id),
    reviewer_id TEXT NOT NULL REFERENCES users (id),
    decision    TEXT NOT NULL CHECK (decision IN ('accepted', 'rejected', 'needs_info', 'withdrawn')),
    note        TEXT NOT NULL DEFAULT '',
    at          TEXT NOT NULL
) STRICT;
CREATE INDEX evidence_reviews_evidence ON evidence_reviews (evidence_id, at, id);

-- +goose Down
DROP TABLE evidence_reviews;
