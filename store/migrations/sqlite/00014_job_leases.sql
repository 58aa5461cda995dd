-- Leases on background jobs. SQLite flavour of
-- ../postgres/00014_job_leases.sql: one process owns the file, so a lease
-- is always free or its own, but the jobs take it all the same.

-- +goose Up
CREATE TABLE job_leases (
    name       TEXT NOT NULL PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TEXT NOT NULL
) STRICT;
CREATE INDEX job_leases_expires ON job_leases (expires_at);

-- +goose Down
DROP TABLE job_leases;
