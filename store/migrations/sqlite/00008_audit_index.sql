-- Indexes for the filters of the audit listing (GET /v1/audit): by actor
-- and by action in chain order, and by time. Objects have theirs since
-- 00005. SQLite flavour of ../postgres/00008_audit_index.sql.

-- +goose Up
CREATE INDEX audit_events_actor ON audit_events (actor_id, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
CREATE INDEX audit_events_at ON audit_events (at);

-- +goose Down
DROP INDEX audit_events_at;
DROP INDEX audit_events_action;
DROP INDEX audit_events_actor;
