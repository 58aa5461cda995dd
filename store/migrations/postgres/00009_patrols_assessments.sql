-- River patrols (巡河), target-responsibility letters (目标责任书) and frozen
-- monthly assessments. PostgreSQL flavour of
-- ../sqlite/00009_patrols_assessments.sql; the two must describe the same data.

-- +goose Up
CREATE TABLE patrols (
    id            uuid             NOT NULL PRIMARY KEY,
    chief_id      uuid             NOT NULL REFERENCES users (id),
    -- The recorder's Idempotency-Key and the fingerprint of what was sent
    -- with it, kept for good: a phone may retry a day later.
    idem_key      text             COLLATE "C" NOT NULL,
    fingerprint   bytea            NOT NULL CHECK (octet_length(fingerprint) = 32),
    reach_code    text             COLLATE "C" NOT NULL,
    township_code text             COLLATE "C" NOT NULL DEFAULT '',
    started_at    timestamptz      NOT NULL,
    ended_at      timestamptz      NOT NULL CHECK (ended_at >= started_at),
    length_m      double precision NOT NULL CHECK (length_m >= 0 AND length_m < 1e9),
    duration_s    double precision NOT NULL CHECK (duration_s >= 0 AND duration_s < 1e9),
    coverage      double precision NOT NULL CHECK (coverage BETWEEN 0 AND 1),
    max_speed     double precision NOT NULL CHECK (max_speed >= 0 AND max_speed < 1e9),
    median_speed  double precision NOT NULL CHECK (median_speed >= 0 AND median_speed < 1e9),
    fixes         integer          NOT NULL CHECK (fixes >= 2),
    gaps          integer          NOT NULL CHECK (gaps >= 0),
    teleports     integer          NOT NULL CHECK (teleports >= 0),
    valid         boolean          NOT NULL,
    reasons       text             NOT NULL DEFAULT '[]', -- JSON array of reason codes
    evidence_ids  text             NOT NULL DEFAULT '[]', -- JSON array of evidence ids
    note          text             NOT NULL DEFAULT '',
    -- The track as received: JSON [[lon, lat, unix milliseconds], …].
    track         text             NOT NULL,
    recorded_at   timestamptz      NOT NULL,
    UNIQUE (chief_id, idem_key)
);
CREATE INDEX patrols_started ON patrols (started_at DESC, id DESC);
CREATE INDEX patrols_reach ON patrols (reach_code, started_at DESC, id DESC);
CREATE INDEX patrols_chief ON patrols (chief_id, started_at DESC, id DESC);

CREATE TABLE letters (
    id            uuid        NOT NULL PRIMARY KEY,
    township_code text        COLLATE "C" NOT NULL,
    year          integer     NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    signed_on     text        COLLATE "C" NOT NULL CHECK (signed_on ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'),
    indicators    text        NOT NULL, -- JSON, validated by the domain
    recorded_at   timestamptz NOT NULL,
    recorded_by   uuid        NOT NULL REFERENCES users (id),
    UNIQUE (township_code, year, signed_on)
);

-- A frozen month: the assessment as computed at the freeze, served from
-- then on instead of a recomputation.
CREATE TABLE assessment_snapshots (
    month     text        COLLATE "C" NOT NULL PRIMARY KEY CHECK (month ~ '^[0-9]{4}-[0-9]{2}$'),
    frozen_at timestamptz NOT NULL,
    frozen_by uuid        NOT NULL REFERENCES users (id),
    snapshot  text        NOT NULL
);

-- +goose Down
DROP TABLE assessment_snapshots;
DROP TABLE letters;
DROP TABLE patrols;
