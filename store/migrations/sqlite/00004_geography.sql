-- Geography: versioned township boundaries and river reaches, river chief
-- assignments, and the responsibility record kept with each evidence.
-- SQLite flavour of ../postgres/00004_geography.sql; the two must describe
-- the same data (see there for versions).
--
-- Geometries are WKB BLOBs (go-geom encoding/wkb), SRID 4326 implied,
-- beside their exact bounds in double precision. Spatial index: an R*Tree
-- per table keyed by the row's INTEGER PRIMARY KEY (seq), kept in step with
-- the bounds columns by triggers, as for evidence. The R*Tree stores 32-bit
-- floats rounded outwards, so queries compare the bounds columns as well.

-- +goose Up
CREATE TABLE import_batches (
    id             INTEGER NOT NULL PRIMARY KEY CHECK (id > 0),
    kind           TEXT    NOT NULL CHECK (kind IN ('townships', 'reaches')),
    effective_from TEXT    NOT NULL,
    created_at     TEXT    NOT NULL,
    count          INTEGER NOT NULL CHECK (count >= 0)
) STRICT;

CREATE INDEX import_batches_kind ON import_batches (kind, id);

CREATE TABLE townships (
    seq            INTEGER PRIMARY KEY, -- R*Tree key, never exposed
    code           TEXT    NOT NULL CHECK (code <> ''),
    version        INTEGER NOT NULL REFERENCES import_batches (id),
    name           TEXT    NOT NULL,
    name_en        TEXT    NOT NULL DEFAULT '',
    kind           TEXT    NOT NULL,
    zone           TEXT    NOT NULL CHECK (zone IN ('core', 'periphery', 'general')),
    boundary       BLOB    NOT NULL, -- WKB MultiPolygon
    min_lon        REAL    NOT NULL,
    min_lat        REAL    NOT NULL,
    max_lon        REAL    NOT NULL,
    max_lat        REAL    NOT NULL,
    effective_from TEXT    NOT NULL,
    effective_to   TEXT,
    UNIQUE (code, version),
    CHECK (effective_to IS NULL OR effective_to > effective_from),
    CHECK (min_lon <= max_lon AND min_lat <= max_lat)
) STRICT;

CREATE UNIQUE INDEX townships_current ON townships (code) WHERE effective_to IS NULL;

CREATE VIRTUAL TABLE townships_rtree USING rtree (id, min_lon, max_lon, min_lat, max_lat);

-- +goose StatementBegin
CREATE TRIGGER townships_rtree_insert AFTER INSERT ON townships
BEGIN
    INSERT INTO townships_rtree (id, min_lon, max_lon, min_lat, max_lat)
    VALUES (new.seq, new.min_lon, new.max_lon, new.min_lat, new.max_lat);
END;
-- +goose StatementEnd

-- Rows are only ever closed (effective_to); these two keep the index
-- right if an operator edits or deletes by hand.
-- +goose StatementBegin
CREATE TRIGGER townships_rtree_update AFTER UPDATE OF min_lon, min_lat, max_lon, max_lat ON townships
BEGIN
    UPDATE townships_rtree SET min_lon = new.min_lon, max_lon = new.max_lon, min_lat = new.min_lat, max_lat = new.max_lat
    WHERE id = new.seq;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER townships_rtree_delete AFTER DELETE ON townships
BEGIN
    DELETE FROM townships_rtree WHERE id = old.seq;
END;
-- +goose StatementEnd

CREATE TABLE reaches (
    seq            INTEGER PRIMARY KEY, -- R*Tree key, never exposed
    code           TEXT    NOT NULL CHECK (code <> ''),
    version        INTEGER NOT NULL REFERENCES import_batches (id),
    river          TEXT    NOT NULL,
    river_en       TEXT    NOT NULL DEFAULT '',
    name           TEXT    NOT NULL,
    -- The township the reach lies in, by code: townships are versioned,
    -- so this is not a foreign key.
    township_code  TEXT    NOT NULL,
    line           BLOB    NOT NULL, -- WKB MultiLineString
    min_lon        REAL    NOT NULL,
    min_lat        REAL    NOT NULL,
    max_lon        REAL    NOT NULL,
    max_lat        REAL    NOT NULL,
    effective_from TEXT    NOT NULL,
    effective_to   TEXT,
    UNIQUE (code, version),
    CHECK (effective_to IS NULL OR effective_to > effective_from),
    CHECK (min_lon <= max_lon AND min_lat <= max_lat)
) STRICT;

CREATE UNIQUE INDEX reaches_current ON reaches (code) WHERE effective_to IS NULL;
CREATE INDEX reaches_township ON reaches (township_code, code);
CREATE INDEX reaches_river ON reaches (river, code);

CREATE VIRTUAL TABLE reaches_rtree USING rtree (id, min_lon, max_lon, min_lat, max_lat);

-- +goose StatementBegin
CREATE TRIGGER reaches_rtree_insert AFTER INSERT ON reaches
BEGIN
    INSERT INTO reaches_rtree (id, min_lon, max_lon, min_lat, max_lat)
    VALUES (new.seq, new.min_lon, new.max_lon, new.min_lat, new.max_lat);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER reaches_rtree_update AFTER UPDATE OF min_lon, min_lat, max_lon, max_lat ON reaches
BEGIN
    UPDATE reaches_rtree SET min_lon = new.min_lon, max_lon = new.max_lon, min_lat = new.min_lat, max_lat = new.max_lat
    WHERE id = new.seq;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER reaches_rtree_delete AFTER DELETE ON reaches
BEGIN
    DELETE FROM reaches_rtree WHERE id = old.seq;
END;
-- +goose StatementEnd

-- A user with role river_chief answers for a reach (by code, across its
-- versions) at a level from valid_from (inclusive) to valid_to
-- (exclusive; NULL: open-ended). Replacing a reach's chiefs closes the
-- current rows and deletes the ones not yet started; history stays.
CREATE TABLE chief_assignments (
    id         TEXT NOT NULL PRIMARY KEY,
    reach_code TEXT NOT NULL CHECK (reach_code <> ''),
    user_id    TEXT NOT NULL REFERENCES users (id),
    level      TEXT NOT NULL CHECK (level IN ('county', 'township', 'village')),
    valid_from TEXT NOT NULL,
    valid_to   TEXT,
    CHECK (valid_to IS NULL OR valid_to > valid_from)
) STRICT;

CREATE INDEX chief_assignments_reach ON chief_assignments (reach_code, valid_from);
-- A chief's reaches, on every request of theirs: a covering index in
-- reach order.
CREATE INDEX chief_assignments_user ON chief_assignments (user_id, reach_code, valid_from, valid_to);

-- Who answers for the evidence (inspect.Responsibility, JSON) as worked
-- out when it was linked; township_code and reach_code repeat its codes
-- for the scope indexes. Shown, never filtered on.
ALTER TABLE evidence ADD COLUMN responsibility TEXT CHECK (json_valid(responsibility));

-- +goose Down
ALTER TABLE evidence DROP COLUMN responsibility;
DROP TABLE chief_assignments;
DROP TRIGGER reaches_rtree_delete;
DROP TRIGGER reaches_rtree_update;
DROP TRIGGER reaches_rtree_insert;
DROP TABLE reaches_rtree;
DROP TABLE reaches;
DROP TRIGGER townships_rtree_delete;
DROP TRIGGER townships_rtree_update;
DROP TRIGGER townships_rtree_insert;
DROP TABLE townships_rtree;
DROP TABLE townships;
DROP TABLE import_batches;
