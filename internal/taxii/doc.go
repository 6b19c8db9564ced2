// Package taxii is a read-only TAXII 2.1 server (OASIS TAXII Version 2.1)
// over the store's indicators, mounted at /taxii2/ by forewarn serve.
//
// One API root, /taxii2/api/, holds two collections: seclytics-active
// (Active indicators) and seclytics-all (every status, so consumers see
// expiries through valid_until). Each indicator is three STIX objects (the
// indicator, its ipv4-addr or ipv6-addr, and the based-on relationship),
// preceded by the two identities. An object's date_added and version are
// the indicator's last change, so a consumer polling with added_after gets
// what changed since. Such a poll of seclytics-active also gets the
// indicators that left it since by expiring or being whitelisted, as
// revoked objects, so that removals reach the consumer. An indicator
// brought back after a revocation is a new object (a new id per
// generation), followed by its earlier generations' indicators as revoked
// versions dated at its return (stix.Superseded), so that a consumer that
// missed the revocation learns of it then. The indicators a purge deleted
// follow every indicator, in purge order, as revoked versions of their
// ids dated at the purge (their tombstones, kept 30 days: stix.Purged),
// in seclytics-all and in a poll with added_after of seclytics-active;
// objects/{id}/ finds them in either collection.
//
// Pages follow the store's keyset cursor: `next` names a position in the
// object stream (after an indicator, plus objects already sent of the next
// one), so paging through `next` returns every object exactly once even
// while runs write. Many indicators share one date_added (a run changes
// them at once), so a client must follow `next` rather than re-query with
// X-TAXII-Date-Added-Last while `more` is true, as the specification
// allows.
//
// Authentication is HTTP basic auth with an API key (read role) as the
// password; the user name is ignored.
package taxii
