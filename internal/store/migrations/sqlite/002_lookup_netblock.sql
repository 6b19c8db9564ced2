-- The netblock each indicator's prediction names, kept for netblock lookups
-- whether or not Predicted Netblock is selected as context (the attribute
-- stays in s_predicted_netblock, written only when selected). 17 bytes: the
-- masked prefix's address in 16-byte form (IPv4 mapped into IPv6), then its
-- length in that 128-bit space (an IPv4 /24 is 120). NULL when no row of the
-- indicator had a netblock.
ALTER TABLE indicators ADD COLUMN s_lookup_netblock BLOB;

-- Indicators stored before this column learn their netblock when a run
-- ingests a dump that lists them: a record's hash now covers its netblock, so
-- the stored hash no longer matches and the row is rewritten (counted as
-- unchanged: no attribute changes). Forget the validators of the last dump,
-- so that the next run ingests it even if it has not changed.
UPDATE feeds SET etag = NULL, last_modified = NULL, body_sha256 = NULL;
