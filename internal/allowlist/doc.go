// Package allowlist holds the addresses forewarn must never block: entries a
// person added (a CIDR or a single address, with a comment, who added it and
// when) and the built-in special-purpose ranges of the IANA IPv4 and IPv6
// Special-Purpose Address Registries, and a matcher that answers "is this
// address allow-listed?" in a few tens of nanoseconds during a feed run.
//
// It holds vocabulary and pure functions only. It must never do I/O or
// decide what happens to a matching indicator (the feed ingests it as
// Whitelisted; the store persists entries).
package allowlist
