-- Geography: versioned township boundaries and river reaches, river chief
-- assignments, and the responsibility record kept with each evidence.
-- PostgreSQL flavour of ../sqlite/00004_geography.sql; the two must
-- describe the same data.
--
-- Versions: every import is a batch (import_batches) whose id is the
-- version of each row it inserts. A row is in force from effective_from
-- (inclusive) to effective_to (exclusive; NULL while current). An import
-- closes the rows in force and inserts the new full set: rows are never
-- rewritten, only closed, so evidence keeps the boundary it was linked
-- with. At most one version of a code is current.
--
-- Spatial index: GiST on the geometry. PostGIS compares index boxes in
-- single precision, so the bbox filter also compares the exact bounds
-- columns (computed by the store from the geometry it writes), as SQLite
-- does.

-- +goose Up
CREATE TABLE import_batches (
    id             bigint      NOT NULL PRIMARY KEY CHECK (id > 0),
    kind           text        NOT NULL CHECK (kind IN ('townships', 'reaches')),
    effective_from timestamptz NOT NULL,
    created_at     timestamptz NOT NULL,
    count          integer     NOT NULL CHECK (count >= 0)
);

CREATE INDEX import_batches_kind ON import_batches (kind, id);

CREATE TABLE townships (
    code           text             COLLATE "C" NOT NULL CHECK (code <> ''),
    version        bigint           NOT NULL REFERENCES import_batches (id),
    name           text             NOT NULL,
    name_en        text             NOT NULL DEFAULT '',
    kind           text             NOT NULL,
    zone           text             NOT NULL CHECK (zone IN ('core', 'periphery', 'general')),
    boundary       geometry(MultiPolygon, 4326) NOT NULL,
    min_lon        double precision NOT NULL,
    min_lat        double precision NOT NULL,
    max_lon        double precision NOT NULL,
    max_lat        double precision NOT NULL,
    effective_from timestamptz      NOT NULL,
    effective_to   timestamptz,
    PRIMARY KEY (code, version),
    CHECK (effective_to IS NULL OR effective_to > effective_from),
    CHECK (min_lon <= max_lon AND min_lat <= max_lat)
);

CREATE UNIQUE INDEX townships_current ON townships (code) WHERE effective_to IS NULL;
CREATE INDEX townships_boundary ON townships USING gist (boundary);

CREATE TABLE reaches (
    code           text             COLLATE "C" NOT NULL CHECK (code <> ''),
    version        bigint           NOT NULL REFERENCES import_batches (id),
    river          text             COLLATE "C" NOT NULL,
    river_en       text             NOT NULL DEFAULT '',
    name           text             NOT NULL,
    -- The township the reach lies in, by code: townships are versioned,
    -- so this is not a foreign key.
    township_code  text             COLLATE "C" NOT NULL,
    line           geometry(MultiLineString, 4326) NOT NULL,
    min_lon        double precision NOT NULL,
    min_lat        double precision NOT NULL,
    max_lon        double precision NOT NULL,
    max_lat        double precision NOT NULL,
    effective_from timestamptz      NOT NULL,
    effective_to   timestamptz,
    PRIMARY KEY (code, version),
    CHECK (effective_to IS NULL OR effective_to > effective_from),
    CHECK (min_lon <= max_lon AND min_lat <= max_lat)
);

CREATE UNIQUE INDEX reaches_current ON reaches (code) WHERE effective_to IS NULL;
CREATE INDEX reaches_township ON reaches (township_code, code);
CREATE INDEX reaches_river ON reaches (river, code);
CREATE INDEX reaches_line ON reaches USING gist (line);

-- A user with role river_chief answers for a reach (by code, across its
-- versions) at a level from valid_from (inclusive) to valid_to
-- (exclusive; NULL: open-ended). Replacing a reach's chiefs closes the
-- current rows and deletes the ones not yet started; history stays.
CREATE TABLE chief_assignments (
    id         uuid        NOT NULL PRIMARY KEY,
    reach_code text        COLLATE "C" NOT NULL CHECK (reach_code <> ''),
    user_id    uuid        NOT NULL REFERENCES users (id),
    level      text        NOT NULL CHECK (level IN ('county', 'township', 'village')),
    valid_from timestamptz NOT NULL,
    valid_to   timestamptz,
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);

CREATE INDEX chief_assignments_reach ON chief_assignments (reach_code, valid_from);
-- A chief's reaches, on every request of theirs: an index-only scan in
-- reach order.
CREATE INDEX chief_assignments_user ON chief_assignments (user_id, reach_code, valid_from, valid_to);

-- Who answers for the evidence (inspect.Responsibility) as worked out
-- when it was linked; township_code and reach_code repeat its codes for
-- the scope indexes. Shown, never filtered on.
ALTER TABLE evidence ADD COLUMN responsibility jsonb;

-- +goose Down
ALTER TABLE evidence DROP COLUMN responsibility;
DROP TABLE chief_assignments;
DROP TABLE reaches;
DROP TABLE townships;
DROP TABLE import_batches;
