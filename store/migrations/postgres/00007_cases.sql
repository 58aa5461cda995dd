-- Rectification cases (整改), their timelines and the Idempotency-Keys of
-- their transitions. PostgreSQL flavour of ../sqlite/00007_cases.sql; the
-- two must describe the same data.

-- +goose Up
CREATE TABLE cases (
    id                uuid        NOT NULL PRIMARY KEY,
    title             text        NOT NULL,
    category          text        NOT NULL CHECK (category IN ('dust_site', 'open_burning', 'river_section', 'other')),
    severity          text        NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    state             text        NOT NULL CHECK (state IN ('open', 'in_progress', 'rectification_submitted', 'returned', 'closed', 'reopened')),
    township_code     text        COLLATE "C" NOT NULL DEFAULT '',
    reach_code        text        COLLATE "C" NOT NULL DEFAULT '',
    -- The reach's chiefs when the case was opened, as shown (JSON).
    chiefs            text        NOT NULL DEFAULT '[]',
    -- Evidence ids of the latest rectification submission (JSON array).
    rectification     text        NOT NULL DEFAULT '[]',
    opened_by         uuid        NOT NULL REFERENCES users (id),
    opened_at         timestamptz NOT NULL,
    cycle_start       timestamptz NOT NULL,
    deadline          timestamptz NOT NULL,
    deadline_explicit boolean     NOT NULL,
    overdue_since     timestamptz,
    escalation        text        NOT NULL CHECK (escalation IN ('none', 'reminder', 'township_head', 'county')),
    submitted_by      uuid        REFERENCES users (id),
    submitted_at      timestamptz,
    verified_by       uuid        REFERENCES users (id),
    closed_at         timestamptz,
    updated_at        timestamptz NOT NULL,
    version           bigint      NOT NULL CHECK (version > 0)
);
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
    case_id     uuid    NOT NULL REFERENCES cases (id),
    evidence_id uuid    NOT NULL REFERENCES evidence (id),
    role        text    NOT NULL CHECK (role IN ('original', 'rectification')),
    ordinal     integer NOT NULL,
    PRIMARY KEY (case_id, evidence_id)
);
CREATE INDEX case_evidence_evidence ON case_evidence (evidence_id);

-- The timeline: append-only. data holds the entry's fields as JSON.
CREATE TABLE case_events (
    case_id  uuid        NOT NULL REFERENCES cases (id),
    seq      bigint      NOT NULL CHECK (seq > 0),
    at       timestamptz NOT NULL,
    actor_id uuid        REFERENCES users (id),
    kind     text        NOT NULL CHECK (kind IN ('opened', 'transition', 'comment', 'overdue', 'escalation')),
    -- The transition's action ('' for other kinds): the monthly
    -- assessment counts reopenings by it.
    action   text        NOT NULL DEFAULT '',
    data     text        NOT NULL,
    PRIMARY KEY (case_id, seq)
);
CREATE INDEX case_events_action ON case_events (action, at) WHERE action <> '';

-- One row per (user, Idempotency-Key) of a transition, kept for good.
CREATE TABLE case_transition_keys (
    actor_id    uuid        NOT NULL REFERENCES users (id),
    idem_key    text        COLLATE "C" NOT NULL,
    case_id     uuid        NOT NULL REFERENCES cases (id),
    fingerprint bytea       NOT NULL CHECK (octet_length(fingerprint) = 32),
    at          timestamptz NOT NULL,
    PRIMARY KEY (actor_id, idem_key)
);

-- +goose Down
DROP TABLE case_transition_keys;
DROP TABLE case_events;
DROP TABLE case_evidence;
DROP TABLE cases;
