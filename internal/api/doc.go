// Package api is forewarn's REST API under /api/v1, plus /healthz and
// /readyz: feeds and their configuration, manual runs and the activity log,
// indicator search and status changes, netblock-aware lookups, and API
// keys. Every /api/v1 endpoint needs an API key sent as
// "Authorization: Bearer KEY"; the read role reads, the admin role also
// changes things. Errors have one shape:
//
//	{"error":{"code":"...","message":"...","field":"..."}}
//
// openapi.json describes every endpoint; a test checks that the routes and
// the document agree. Runs, indicators and lookups are served as the API's
// own types (views.go), never as the store's or the pipeline's structs, and
// testdata/*.golden pins their JSON (go test -run TestGoldenJSON -update
// rewrites it, for a change made on purpose).
package api
