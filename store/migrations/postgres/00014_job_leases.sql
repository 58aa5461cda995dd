-- Leases on background jobs, so that replicas sharing the database run
-- each job once: the deadline sweep, the reconciler, and the previews of
-- one photo. A row says who holds the job until when; taking it is one
-- compare-and-set (see store/leases.go).

-- Enumerations and CHECK constraints. The domain (package inspect)
-- declares each enumeration once, and the store checks values through it
-- before they reach SQL. The CHECK constraints on enum columns are kept as
-- a second line of defence, not dropped: dropping them takes a rebuild of
-- most SQLite tables, evidence among them. The store contract suite
-- (storetest, "Enumerations") stores every role, category, source,
-- decision, severity, case state and escalation on both backends, so such
-- a value added to the domain without its migration fails there. Adding a
-- value to one of these columns takes a new migration in both dialects: in
-- PostgreSQL, DROP and ADD the column's constraint (named table_column_check);
-- in SQLite, rebuild the table (create the new table, copy, drop, rename,
-- recreate its indexes and triggers; evidence keeps its seq for the
-- R*Tree) with foreign keys off, outside a transaction (goose's
-- NO TRANSACTION annotation).
-- The columns (migration: table.column):
--   00001: users.role
--   00002: evidence.category, evidence.capture_time_source,
--          evidence.location_source, submissions.state
--   00004: import_batches.kind (not a domain enumeration),
--          townships.zone, chief_assignments.level
--   00006: evidence_reviews.decision
--   00007: cases.category, cases.severity, cases.state, cases.escalation,
--          case_evidence.role (not a domain enumeration), case_events.kind;
--          and the cases_owing index's predicate lists the states that owe
--          an action (inspect.CaseState.owesAction)
--   00011: evidence.thumbnail_gave_up
-- Evidence flags (00002: evidence_flags.flag) have no such list: a new
-- flag needs no migration.

-- +goose Up
CREATE TABLE job_leases (
    name       text        NOT NULL PRIMARY KEY,
    holder     text        NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX job_leases_expires ON job_leases (expires_at);

-- +goose Down
DROP TABLE job_leases;
