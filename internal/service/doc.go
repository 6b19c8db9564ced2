// Package service holds every operation a person can perform on forewarn:
// configure, enable, disable and uninstall a feed, start and cancel a run,
// set an indicator's status, add and remove allow-list entries, create and
// revoke API keys, sign in to and out of the web UI. The REST API, the web
// UI and the command line call it and only render what it returns, so a
// use case is written once: its input is validated here, in one place, with
// the same field-level errors (*ValidationError) on every edge, and who did
// it (an Actor) is recorded in the store's audit log.
//
// It must never render (no HTTP status, HTML or terminal text) nor read a
// request: the edges turn requests into arguments and results into output.
package service
