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

CREATE TRIGGER indicators_generation AFTER UPDATE OF status ON indicators
    WHEN OLD.status IN ('Expired', 'Whitelisted') AND NEW.status NOT IN ('Expired', 'Whitelisted')
BEGIN
    UPDATE indicators SET generation = generation + 1 WHERE ip = NEW.ip;
END;

-- The few indicators past generation 0, for TAXII's lookup of an object
-- by id (which hashes every address into an id of generation 0 and these
-- into theirs).
CREATE INDEX indicators_renewed ON indicators (ip, generation) WHERE generation > 0;
