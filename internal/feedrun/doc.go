// Package feedrun runs a list feed from its definition: it turns a
// feeddef.Definition and the feed's stored configuration (parameter
// values, a mirror's base URL, the secret) into what package listrun runs
// (the feed's semantics, a fetcher with its authentication, and a parser
// that adapts a feeddef.Reader to the store's stream of entries).
//
// It is the glue between the two and holds no logic of either: it must
// never parse a body itself, write to the store other than through
// listrun, or put the feed's secret into a URL, error or log line that
// anyone can see.
package feedrun
