// Package view holds the JSON shapes of an indicator and of a lookup that
// more than one edge prints: the API (GET /indicators/{value}, /lookup)
// and the CLI (lookup --json). One shape, mapped field by field from the
// read model (indicator.Indicator, lookup.Result), so that the two cannot
// drift apart and a change inside forewarn does not move a field that
// clients parse (internal/api's testdata/*.golden and the CLI's
// TestLookupJSONKeepsItsShape pin it).
package view
