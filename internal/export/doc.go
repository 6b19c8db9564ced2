// Package export writes the store's indicators in the formats other tools
// read: JSON Lines, CSV, a STIX 2.1 bundle, and blocklists for firewalls
// (EDL), Suricata (IP reputation) and Zeek (Intel framework). The CLI and
// the HTTP API both go through Write, so every format takes the same
// filters (Filter) and budgets (Filter.Max).
//
// Exports stream: memory does not grow with the number of indicators,
// except for a max=N budget (a bounded heap of N indicators), --aggregate
// over netblocks and --netblocks (a set of the distinct netblocks). An
// export must never include a secret, and a blocklist format must never
// list a Whitelisted indicator, whatever the filter asks.
package export
