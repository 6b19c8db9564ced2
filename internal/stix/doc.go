// Package stix maps forewarn's indicators to STIX 2.1 objects and writes
// them as a bundle, streaming.
//
// Each indicator becomes an indicator SDO (pattern [ipv4-addr:value = '…']
// or ipv6-addr), the matching ipv4-addr or ipv6-addr SCO, and a based-on
// relationship from the first to the second. Identifiers are deterministic
// UUIDv5s (SCOs use STIX's own namespace over their value), so a consumer
// that loads two exports upserts instead of duplicating. An Expired or
// Whitelisted indicator is revoked, and since STIX 2.1 forbids un-revoking,
// one that comes back is a new SDO and relationship: their ids are over
// the address and the indicator's generation (how many times it left a
// revoked status; 0 keeps the address-only ids), and its earlier
// generations' indicator SDOs follow it as revoked versions modified at
// its return (Superseded). An indicator a purge deleted is published from
// its tombstone as a revoked version of its generation's SDO modified at
// the purge, after its earlier generations' (Purged). created is when
// forewarn first stored the indicator and modified when it last changed it,
// so modified moves only when the indicator changed.
//
// It holds the mapping only: it must never read the store or buffer more
// than one indicator's objects.
package stix
