-- PostgreSQL's migration 00015 stores the evidence documents as json
-- instead of jsonb; SQLite has always kept them as text. This one keeps
-- the two dialects' versions in step.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
