-- Evidence (uploaded photos) and idempotent submissions. PostgreSQL flavour
-- of ../sqlite/00002_evidence.sql; the two must describe the same data.
--
-- Spatial index: geom is generated from lon/lat, so the two can never
-- disagree, and carries a GiST index. lon/lat stay the exact values:
-- PostGIS compares index boxes in single precision, so queries test
-- lon/lat as well, exactly as SQLite does.
--
-- CHECKs on double precision columns also reject NaN, which PostgreSQL
-- orders above every number (NaN BETWEEN -180 AND 180 is false).

-- +goose Up
CREATE TABLE evidence (
    id                     uuid             NOT NULL PRIMARY KEY,
    uploader_id            uuid             NOT NULL REFERENCES users (id),
    category               text             NOT NULL CHECK (category IN ('dust_site', 'open_burning', 'river_section', 'other')),
    subcategory            text             NOT NULL DEFAULT '',
    note                   text             NOT NULL DEFAULT '',
    sha256                 text             COLLATE "C" NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size                   bigint           NOT NULL CHECK (size >= 0),
    content_type           text             NOT NULL,
    object_key             text             NOT NULL,
    width                  integer          NOT NULL CHECK (width >= 0),
    height                 integer          NOT NULL CHECK (height >= 0),
    received_at            timestamptz      NOT NULL,
    captured_at            timestamptz,
    capture_time_source    text             NOT NULL CHECK (capture_time_source IN ('exif', 'device', 'none')),
    -- WGS-84 degrees; both NULL when the position is unknown.
    lon                    double precision CHECK (lon BETWEEN -180 AND 180),
    lat                    double precision CHECK (lat BETWEEN -90 AND 90),
    geom                   geometry(Point, 4326) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED,
    location_source        text             NOT NULL CHECK (location_source IN ('exif', 'device', 'none')),
    exif_device_distance_m double precision CHECK (exif_device_distance_m >= 0 AND exif_device_distance_m < 1e308),
    duplicate_of           uuid             REFERENCES evidence (id),
    -- Filled in by linking (point in township polygon, nearest reach).
    township_code          text             COLLATE "C",
    reach_code             text             COLLATE "C",
    -- Sizes of the thumbnails made, canonical JSON text: ascending, no
    -- duplicates, no spaces, e.g. [320,1280]. Text, not jsonb, because the
    -- store compares it for equality.
    thumbnails             text             COLLATE "C" NOT NULL DEFAULT '[]',
    -- PhotoEXIF and DeviceFix: what is shown, never filtered on.
    details                jsonb            NOT NULL DEFAULT '{}',
    CHECK ((lon IS NULL) = (lat IS NULL))
);

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
-- The predicate must match the one in the store's query.
CREATE INDEX evidence_thumbnails ON evidence (thumbnails, received_at, id)
    WHERE content_type IN ('image/jpeg', 'image/png', 'image/webp');
CREATE INDEX evidence_geom ON evidence USING gist (geom);

-- Flags, one row each, so that "evidence with flag X" uses an index.
-- Flag names are checked by the store, not here: a new flag needs no
-- migration.
CREATE TABLE evidence_flags (
    evidence_id uuid NOT NULL REFERENCES evidence (id) ON DELETE CASCADE,
    flag        text COLLATE "C" NOT NULL CHECK (flag <> ''),
    PRIMARY KEY (evidence_id, flag)
);

CREATE INDEX evidence_flags_flag ON evidence_flags (flag, evidence_id);

-- One row per (user, Idempotency-Key), kept for good: a retry days later
-- still replays (docs/reliability.md#c6). pending → stored, or pending → deleted
-- (released, or abandoned by the reconciler).
CREATE TABLE submissions (
    user_id     uuid        NOT NULL REFERENCES users (id),
    idem_key    text        COLLATE "C" NOT NULL,
    state       text        NOT NULL CHECK (state IN ('pending', 'stored')),
    fingerprint bytea       CHECK (octet_length(fingerprint) = 32),
    evidence_id uuid        REFERENCES evidence (id),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (user_id, idem_key),
    CHECK ((state = 'stored') = (evidence_id IS NOT NULL AND fingerprint IS NOT NULL))
);

-- The reconciler's queue: pending claims whose heartbeat stopped.
CREATE INDEX submissions_pending ON submissions (updated_at) WHERE state = 'pending';

-- +goose Down
DROP TABLE submissions;
DROP TABLE evidence_flags;
DROP TABLE evidence;
