-- Reviews of evidence: records beside the evidence, never edits of it.

-- +goose Up
CREATE TABLE evidence_reviews (
    id          uuid        NOT NULL PRIMARY KEY,
    evidence_id uuid        NOT NULL REFERENCES evidence (id),
    reviewer_id uuid        NOT NULL REFERENCES users (id),
    decision    text        NOT NULL CHECK (decision IN ('accepted', 'rejected', 'needs_info', 'withdrawn')),
    note        text        NOT NULL DEFAULT '',
    at          timestamptz NOT NULL
);
CREATE INDEX evidence_reviews_evidence ON evidence_reviews (evidence_id, at, id);

-- +goose Down
DROP TABLE evidence_reviews;
