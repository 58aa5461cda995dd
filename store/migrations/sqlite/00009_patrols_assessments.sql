-- River patrols (巡河), target-responsibility letters (目标责任书) and frozen
-- monthly assessments. SQLite flavour of
-- ../postgres/00009_patrols_assessments.sql; the two must describe the same data.

-- +goose Up
CREATE TABLE patrols (
    id            TEXT    NOT NULL PRIMARY KEY,
    chief_id      TEXT    NOT NULL REFERENCES users (id),
    -- The recorder's Idempotency-Key and the fingerprint of what was sent
    -- with it, kept for good: a phone may retry a day later.
    idem_key      TEXT    NOT NULL,
    fingerprint   BLOB    NOT NULL CHECK (length(fingerprint) = 32),
    reach_code    TEXT    NOT NULL,
    township_code TEXT    NOT NULL DEFAULT '',
    started_at    TEXT    NOT NULL,
    ended_at      TEXT    NOT NULL CHECK (ended_at >= started_at),
    length_m      REAL    NOT NULL CHECK (length_m >= 0 AND length_m < 1e9),
    duration_s    REAL    NOT NULL CHECK (duration_s >= 0 AND duration_s < 1e9),
    coverage      REAL    NOT NULL CHECK (coverage BETWEEN 0 AND 1),
    max_speed     REAL    NOT NULL CHECK (max_speed >= 0 AND max_speed < 1e9),
    median_speed  REAL    NOT NULL CHECK (median_speed >= 0 AND median_speed < 1e9),
    fixes         INTEGER NOT NULL CHECK (fixes >= 2),
    gaps          INTEGER NOT NULL CHECK (gaps >= 0),
    teleports     INTEGER NOT NULL CHECK (teleports >= 0),
    valid         INTEGER NOT NULL CHECK (valid IN (0, 1)),
    reasons       TEXT    NOT NULL DEFAULT '[]', -- JSON array of reason codes
    evidence_ids  TEXT    NOT NULL DEFAULT '[]', -- JSON array of evidence ids
    note          TEXT    NOT NULL DEFAULT '',
    -- The track as received: JSON [[lon, lat, unix milliseconds], …].
    track         TEXT    NOT NULL,
    recorded_at   TEXT    NOT NULL,
    UNIQUE (chief_id, idem_key)
) STRICT;
CREATE INDEX patrols_started ON patrols (started_at DESC, id DESC);
CREATE INDEX patrols_reach ON patrols (reach_code, started_at DESC, id DESC);
CREATE INDEX patrols_chief ON patrols (chief_id, started_at DESC, id DESC);

CREATE TABLE letters (
    id            TEXT    NOT NULL PRIMARY KEY,
    township_code TEXT    NOT NULL,
    year          INTEGER NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    signed_on     TEXT    NOT NULL CHECK (signed_on GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    indicators    TEXT    NOT NULL, -- JSON, validated by the domain
    recorded_at   TEXT    NOT NULL,
    recorded_by   TEXT    NOT NULL REFERENCES users (id),
    UNIQUE (township_code, year, signed_on)
) STRICT;

-- A frozen month: the assessment as computed at the freeze, served from
-- then on instead of a recomputation.
CREATE TABLE assessment_snapshots (
    month     TEXT NOT NULL PRIMARY KEY CHECK (month GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]'),
    frozen_at TEXT NOT NULL,
    frozen_by TEXT NOT NULL REFERENCES users (id),
    snapshot  TEXT NOT NULL
) STRICT;

-- +goose Down
DROP TABLE assessment_snapshots;
DROP TABLE letters;
DROP TABLE patrols;
