// Package output is forewarn's output profiles: a named, stored export for
// one consumer (a firewall, a CrowdSec, a MISP, an Elastic), with a format,
// a budget ranked through an index, and a key of its own. Spec is what a
// profile stores and validates; Render writes a profile, budget applied;
// Handler serves profiles at /outputs/NAME to their own keys.
//
// A profile's key must never open anything but its profile: not the API,
// not TAXII, not the web UI, not another profile (the key is not an API
// key, and the handler checks it against the one profile asked for).
// Rendering must never sort the store: a budget reads the ranking index
// for as many entries as it keeps.
package output
