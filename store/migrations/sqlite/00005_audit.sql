-- Tamper-evident audit trail: a hash chain (see inspect.AuditEvent).
-- SQLite flavour of ../postgres/00005_audit.sql.

-- +goose Up
CREATE TABLE audit_events (
    seq         INTEGER NOT NULL PRIMARY KEY,
    at          TEXT    NOT NULL,
    actor_id    TEXT    NOT NULL DEFAULT '',
    action      TEXT    NOT NULL,
    object_type TEXT    NOT NULL,
    object_id   TEXT    NOT NULL,
    data        TEXT    NOT NULL CHECK (json_valid(data)),
    prev_hash   BLOB    NOT NULL,
    hash        BLOB    NOT NULL CHECK (length(hash) = 32)
) STRICT;
CREATE INDEX audit_events_object ON audit_events (object_type, object_id, seq);

-- +goose Down
DROP TABLE audit_events;
