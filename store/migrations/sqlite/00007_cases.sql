-- Rectification cases (整改), their timelines and the Idempotency-Keys of
-- their transitions. SQLite flavour of ../postgres/00007_cases.sql; the
-- two must describe the same data.

-- +goose Up
CREATE TABLE cases (
    id                TEXT        NOT NULL PRIMARY KEY,
    title             TEXT        NOT NULL,
    category          TEXT        NOT NULL CHECK (category IN ('dust_site', 'open_burning', 'river_section', 'other')),
    severity          TEXT        NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    state             TEXT        NOT NULL CHECK (state IN ('open', 'in_progress', 'rectification_submitted', 'returned', 'closed', 'reopened')),
    township_code     TEXT        NOT NULL DEFAULT '',
    reach_code        TEXT        NOT NULL DEFAULT '',
    -- The reach's chiefs when the case was opened, as shown (JSON).
    chiefs            TEXT        NOT NULL DEFAULT '[]',
    -- Evidence ids of the latest rectification submission (JSON array).
    rectification     TEXT        NOT NULL DEFAULT '[]',
    opened_by         TEXT        NOT NULL REFERENCES users (id),
    opened_at         TEXT NOT NULL,
    cycle_start       TEXT NOT NULL,
    deadline          TEXT NOT NULL,
    deadline_explicit INTEGER     NOT NULL CHECK (deadline_explicit IN (0, 1)),
    overdue_since     TEXT,
    escalation        TEXT        NOT NULL CHECK (escalation IN ('none', 'reminder', 'township_head', 'county')),
    submitted_by      TEXT        REFERENCES users (id),
    submitted_at      TEXT,
    verified_by       TEXT        REFERENCES users (id),
    closed_at         TEXT,
    updated_at        TEXT NOT NULL,
    version           INTEGER      NOT NULL CHECK (version > 0)
) STRICT;
-- Keyset listing, newest first, overall and by township or reach.
CREATE INDEX cases_opened ON cases (opened_at DESC, id DESC);
CREATE INDEX cases_township ON cases (township_code, opened_at DESC, id DESC);
CREATE INDEX cases_reach ON cases (reach_code, opened_at DESC, id DESC);
-- The deadline job's work list. The predicate must match the store's query.
CREATE INDEX cases_owing ON cases (deadline)
    WHERE state IN ('open', 'in_progress', 'returned', 'reopened') AND escalation <> 'county';

-- The evidence a case was opened from (original) and every piece ever
-- submitted as proof of the fix (rectification).
CREATE TABLE case_evidence (
    case_id     TEXT    NOT NULL REFERENCES cases (id),
    evidence_id TEXT    NOT NULL REFERENCES evidence (id),
    role        TEXT    NOT NULL CHECK (role IN ('original', 'rectification')),
    ordinal     INTEGER NOT NULL,
    PRIMARY KEY (case_id, evidence_id)
) STRICT;
CREATE INDEX case_evidence_evidence ON case_evidence (evidence_id);

-- The timeline: append-only. data holds the entry's fields as JSON.
CREATE TABLE case_events (
    case_id  TEXT        NOT NULL REFERENCES cases (id),
    seq      INTEGER      NOT NULL CHECK (seq > 0),
    at       TEXT NOT NULL,
    actor_id TEXT        REFERENCES users (id),
    kind     TEXT        NOT NULL CHECK (kind IN ('opened', 'transition', 'comment', 'overdue', 'escalation')),
    -- The transition's action ('' for other kinds): the monthly
    -- assessment counts reopenings by it.
    action   TEXT        NOT NULL DEFAULT '',
    data     TEXT        NOT NULL,
    PRIMARY KEY (case_id, seq)
) STRICT;
CREATE INDEX case_events_action ON case_events (action, at) WHERE action <> '';

-- One row per (user, Idempotency-Key) of a transition, kept for good.
CREATE TABLE case_transition_keys (
    actor_id    TEXT        NOT NULL REFERENCES users (id),
    idem_key    TEXT        NOT NULL,
    case_id     TEXT        NOT NULL REFERENCES cases (id),
    fingerprint BLOB       NOT NULL CHECK (length(fingerprint) = 32),
    at          TEXT NOT NULL,
    PRIMARY KEY (actor_id, idem_key)
) STRICT;

-- +goose Down
DROP TABLE case_transition_keys;
DROP TABLE case_events;
DROP TABLE case_evidence;
DROP TABLE cases;
