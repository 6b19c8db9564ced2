// Package export writes the store's indicators in the formats other tools
// read: JSON Lines, CSV, a STIX 2.1 bundle, and blocklists for firewalls
// (EDL), Suricata (IP reputation), Zeek (Intel framework), CrowdSec
// (cscli decisions import), Elastic (ECS threat indicators) and MISP (a
// feed directory: manifest.json, hashes.csv, one event per feed, through
// WriteMISPFeed and WriteMISPFile). The CLI, the HTTP API and output
// profiles all go through here, so every format takes the same filters
// (Filter) and budgets (Filter.Max).
//
// Exports stream: memory does not grow with the number of indicators,
// except for a max=N budget (N indicators: read best first through the
// store's ranking index, RankedSource, or kept in a bounded heap),
// --aggregate over netblocks and --netblocks (a set of the distinct
// netblocks). A budget must never sort the store. An
// export must never include a secret, and a blocklist format must never
// list a Whitelisted indicator, an expired one or an allow-listed address,
// whatever the filter asks.
package export
