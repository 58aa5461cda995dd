-- Tamper-evident audit trail: a hash chain (see inspect.AuditEvent).

-- +goose Up
CREATE TABLE audit_events (
    seq         bigint      NOT NULL PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor_id    text        NOT NULL DEFAULT '',
    action      text        NOT NULL,
    object_type text        NOT NULL,
    object_id   text        NOT NULL,
    data        jsonb       NOT NULL,
    prev_hash   bytea       NOT NULL,
    hash        bytea       NOT NULL CHECK (length(hash) = 32)
);
CREATE INDEX audit_events_object ON audit_events (object_type, object_id, seq);

-- +goose Down
DROP TABLE audit_events;
