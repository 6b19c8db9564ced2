// Package feeddef reads feed definitions: declarative YAML files that say
// where a feed is fetched (a base_url plus the publisher's path,
// authentication, conditional GET, gzip or plain), how its body is read
// (CSV/TSV, line lists, NDJSON, key-value records), which field is the
// indicator (an address or a CIDR prefix), which typed attributes it
// carries, the user-settable parameters, the filters and derived attributes
// that use them, and its semantics (snapshot or cumulative, age_out,
// confidence, default schedule).
//
// A definition is validated against the JSON Schema embedded here (the same
// bytes as docs/feed-definition.schema.json) and then by Go for what a
// schema cannot say (references to fields, attributes and parameters exist,
// date layouts parse, bounds are ordered). Every problem is reported at
// once, each with its line and column.
//
// A Reader turns a feed body into entries: one indicator prefix per entry
// with its source line, the feed's own first and last seen dates and typed
// attributes (indicator.Value). Invalid lines are counted and reported with
// their line numbers; they never stop a parse. Filters and derived
// attributes are pure functions evaluated here; an attribute no filter
// reads is mapped only on lines the filters keep. A Reader made by
// NewMapper maps records split elsewhere instead (MapFields): the
// Seclytics runner's dump records.
//
// The built-in definitions (Builtins) are embedded YAML files.
//
// The package must never do I/O beyond reading the io.Reader it is given:
// it does not fetch, store, log or read the clock (the caller passes the
// run's time in Params).
package feeddef
