-- Evidence (uploaded photos) and idempotent submissions. SQLite flavour of
-- ../postgres/00002_evidence.sql; the two must describe the same data.
--
-- Spatial index: an R*Tree virtual table keyed by the evidence row's
-- INTEGER PRIMARY KEY (seq). seq exists only for it: an implicit rowid may
-- change on VACUUM, an INTEGER PRIMARY KEY never does. Triggers keep the
-- R*Tree in step with lon/lat inside the statement that writes the row, so
-- it can never disagree with the table, as PostgreSQL's generated geom
-- column cannot. The R*Tree stores 32-bit floats rounded outwards, so it
-- is only a prefilter; queries always compare lon/lat exactly as well.

-- +goose Up
CREATE TABLE evidence (
    seq                    INTEGER PRIMARY KEY, -- R*Tree key, never exposed
    id                     TEXT    NOT NULL UNIQUE,
    uploader_id            TEXT    NOT NULL REFERENCES users (id),
    category               TEXT    NOT NULL CHECK (category IN ('dust_site', 'open_burning', 'river_section', 'other')),
    subcategory            TEXT    NOT NULL DEFAULT '',
    note                   TEXT    NOT NULL DEFAULT '',
    sha256                 TEXT    NOT NULL CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
    size                   INTEGER NOT NULL CHECK (size >= 0),
    content_type           TEXT    NOT NULL,
    object_key             TEXT    NOT NULL,
    width                  INTEGER NOT NULL CHECK (width >= 0),
    height                 INTEGER NOT NULL CHECK (height >= 0),
    received_at            TEXT    NOT NULL,
    captured_at            TEXT,
    capture_time_source    TEXT    NOT NULL CHECK (capture_time_source IN ('exif', 'device', 'none')),
    -- WGS-84 degrees; both NULL when the position is unknown. (SQLite binds
    -- NaN as NULL: the pairing check catches a lone NaN, the store rejects
    -- every NaN before it gets here.)
    lon                    REAL    CHECK (lon BETWEEN -180 AND 180),
    lat                    REAL    CHECK (lat BETWEEN -90 AND 90),
    location_source        TEXT    NOT NULL CHECK (location_source IN ('exif', 'device', 'none')),
    exif_device_distance_m REAL    CHECK (exif_device_distance_m >= 0 AND exif_device_distance_m < 1e308),
    duplicate_of           TEXT    REFERENCES evidence (id),
    -- Filled in by linking (point in township polygon, nearest reach).
    township_code          TEXT,
    reach_code             TEXT,
    -- Sizes of the thumbnails made, canonical JSON: ascending, no
    -- duplicates, no spaces, e.g. [320,1280].
    thumbnails             TEXT    NOT NULL DEFAULT '[]',
    -- PhotoEXIF and DeviceFix: what is shown, never filtered on.
    details                TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(details)),
    CHECK ((lon IS NULL) = (lat IS NULL))
) STRICT;

-- Keyset listing, newest first, overall and within each filter that
-- narrows by equality.
CREATE INDEX evidence_received ON evidence (received_at DESC, id DESC);
CREATE INDEX evidence_uploader ON evidence (uploader_id, received_at DESC, id DESC);
CREATE INDEX evidence_category ON evidence (category, received_at DESC, id DESC);
CREATE INDEX evidence_township ON evidence (township_code, received_at DESC, id DESC) WHERE township_code IS NOT NULL;
CREATE INDEX evidence_reach ON evidence (reach_code, received_at DESC, id DESC) WHERE reach_code IS NOT NULL;
-- Duplicate detection: the earliest evidence with the same bytes.
CREATE INDEX evidence_sha256 ON evidence (sha256, received_at, id);
-- The thumbnail worker's queue: images by the set of sizes they have.
-- The predicate must match the one in the store's query word for word.
CREATE INDEX evidence_thumbnails ON evidence (thumbnails, received_at, id)
    WHERE content_type IN ('image/jpeg', 'image/png', 'image/webp');

CREATE VIRTUAL TABLE evidence_rtree USING rtree (id, min_lon, max_lon, min_lat, max_lat);

-- +goose StatementBegin
CREATE TRIGGER evidence_rtree_insert AFTER INSERT ON evidence
WHEN new.lon IS NOT NULL
BEGIN
    INSERT INTO evidence_rtree (id, min_lon, max_lon, min_lat, max_lat)
    VALUES (new.seq, new.lon, new.lon, new.lat, new.lat);
END;
-- +goose StatementEnd

-- Evidence is never edited or deleted by the application; these two keep
-- the index right if an operator does it by hand.
-- +goose StatementBegin
CREATE TRIGGER evidence_rtree_update AFTER UPDATE OF lon, lat ON evidence
BEGIN
    DELETE FROM evidence_rtree WHERE id = old.seq;
    INSERT INTO evidence_rtree (id, min_lon, max_lon, min_lat, max_lat)
    SELECT new.seq, new.lon, new.lon, new.lat, new.lat WHERE new.lon IS NOT NULL;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER evidence_rtree_delete AFTER DELETE ON evidence
BEGIN
    DELETE FROM evidence_rtree WHERE id = old.seq;
END;
-- +goose StatementEnd

-- Flags, one row each, so that "evidence with flag X" uses an index.
-- Flag names are checked by the store, not here: a new flag needs no
-- migration.
CREATE TABLE evidence_flags (
    evidence_id TEXT NOT NULL REFERENCES evidence (id) ON DELETE CASCADE,
    flag        TEXT NOT NULL CHECK (flag <> ''),
    PRIMARY KEY (evidence_id, flag)
) STRICT, WITHOUT ROWID;

CREATE INDEX evidence_flags_flag ON evidence_flags (flag, evidence_id);

-- One row per (user, Idempotency-Key), kept for good: a retry days later
-- still replays (docs/reliability.md#c6). pending → stored, or pending → deleted
-- (released, or abandoned by the reconciler).
CREATE TABLE submissions (
    user_id     TEXT NOT NULL REFERENCES users (id),
    idem_key    TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'stored')),
    fingerprint BLOB CHECK (length(fingerprint) = 32),
    evidence_id TEXT REFERENCES evidence (id),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, idem_key),
    CHECK ((state = 'stored') = (evidence_id IS NOT NULL AND fingerprint IS NOT NULL))
) STRICT, WITHOUT ROWID;

-- The reconciler's queue: pending claims whose heartbeat stopped.
CREATE INDEX submissions_pending ON submissions (updated_at) WHERE state = 'pending';

-- +goose Down
DROP TABLE submissions;
DROP TABLE evidence_flags;
DROP TRIGGER evidence_rtree_delete;
DROP TRIGGER evidence_rtree_update;
DROP TRIGGER evidence_rtree_insert;
DROP TABLE evidence_rtree;
DROP TABLE evidence;
