-- An indicator's generation (issue 19, "Removals that arrive"): how many
-- times it left a revoked status (Expired, Whitelisted) for a live one
-- (Active, Review). STIX publishes an Expired or Whitelisted indicator
-- with revoked: true, and STIX 2.1 forbids un-revoking an object, so each
-- generation is published under its own id (internal/stix: generation 0
-- keeps the id derived from the address alone).
--
-- The trigger is the one place the generation moves: every writer of the
-- status (a Seclytics run's upsert, a list run, the expiry sweep, the
-- allow-list, a person's review, a sighting) goes through it. It fires
-- only on the rare row that leaves a revoked status; the others cost a
-- comparison each.
ALTER TABLE indicators ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
-- When the indicator last left a revoked status (its updated_at then, in
-- Unix seconds as updated_at): the modified of the revoked versions of its
-- earlier generations, which TAXII and the bundle publish beside the live
-- one so that a consumer that missed the revocation learns of it. NULL
-- at generation 0.
ALTER TABLE indicators ADD COLUMN renewed_at INTEGER;

CREATE TRIGGER indicators_generation AFTER UPDATE OF status ON indicators
    WHEN OLD.status IN ('Expired', 'Whitelisted') AND NEW.status NOT IN ('Expired', 'Whitelisted')
BEGIN
    UPDATE indicators SET generation = generation + 1, renewed_at = NEW.updated_at WHERE ip = NEW.ip;
END;

-- The few indicators past generation 0, for TAXII's lookup of an object
-- by id (which hashes every address into an id of generation 0 and these
-- into theirs).
CREATE INDEX indicators_renewed ON indicators (ip, generation) WHERE generation > 0;
