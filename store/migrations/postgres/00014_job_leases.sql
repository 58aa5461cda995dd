-- Leases on background jobs, so that replicas sharing the database run
-- each job once: the deadline sweep, the reconciler, and the previews of
-- one photo. A row says who holds the job until when; taking it is one
-- compare-and-set (see store/leases.go).

-- +goose Up
CREATE TABLE job_leases (
    name       text        NOT NULL PRIMARY KEY,
    holder     text        NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX job_leases_expires ON job_leases (expires_at);

-- +goose Down
DROP TABLE job_leases;
