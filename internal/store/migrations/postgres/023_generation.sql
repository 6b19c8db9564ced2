-- An indicator's generation (SQLite migration 030): how many times it left
-- a revoked status (Expired, Whitelisted) for a live one. STIX publishes
-- each generation under its own id, since STIX 2.1 forbids un-revoking
-- an object. The trigger is the one place the generation moves, whichever
-- writer changes the status; its WHEN is checked without calling the
-- function, so a row that stays costs a comparison.
ALTER TABLE indicators ADD COLUMN generation bigint NOT NULL DEFAULT 0;
-- When it last left a revoked status (its updated_at then, Unix seconds):
-- the modified of its earlier generations' revoked versions. NULL at
-- generation 0.
ALTER TABLE indicators ADD COLUMN renewed_at bigint;

CREATE FUNCTION forewarn_indicator_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.generation := OLD.generation + 1;
    NEW.renewed_at := NEW.updated_at;
    RETURN NEW;
END
$$;
CREATE TRIGGER indicators_generation BEFORE UPDATE OF status ON indicators
    FOR EACH ROW WHEN (OLD.status IN ('Expired', 'Whitelisted') AND NEW.status NOT IN ('Expired', 'Whitelisted'))
    EXECUTE FUNCTION forewarn_indicator_generation();

CREATE INDEX indicators_renewed ON indicators (ip) INCLUDE (generation) WHERE generation > 0;
