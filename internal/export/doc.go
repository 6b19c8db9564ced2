// Package export writes the store's indicators in formats other tools read.
// Today that is JSON Lines; STIX 2.1 and firewall blocklists follow.
//
// Exports stream: memory must not grow with the number of indicators. An
// export must never include a secret.
package export
