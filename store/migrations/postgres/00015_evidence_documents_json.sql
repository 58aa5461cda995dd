-- The evidence documents (details, responsibility) are stored as json, the
-- text as written, rather than jsonb. Nothing queries inside them: every
-- read sends them whole to the store, which decodes them itself. Printing
-- jsonb back as text (numbers through numeric, keys re-sorted) cost the
-- server about 15 µs a row, twice the rest of a bbox list; json is sent
-- as it is stored. json still rejects malformed input.
--
-- The store's decoders accept both the writer's text and jsonb's
-- printing, so rows converted here (which keep jsonb's printing) read as
-- before. The ALTER rewrites the table under an exclusive lock.

-- +goose Up
ALTER TABLE evidence ALTER COLUMN details DROP DEFAULT;
ALTER TABLE evidence ALTER COLUMN details TYPE json USING details::json;
ALTER TABLE evidence ALTER COLUMN details SET DEFAULT '{}';
ALTER TABLE evidence ALTER COLUMN responsibility TYPE json USING responsibility::json;

-- +goose Down
ALTER TABLE evidence ALTER COLUMN details DROP DEFAULT;
ALTER TABLE evidence ALTER COLUMN details TYPE jsonb USING details::jsonb;
ALTER TABLE evidence ALTER COLUMN details SET DEFAULT '{}';
ALTER TABLE evidence ALTER COLUMN responsibility TYPE jsonb USING responsibility::jsonb;
