// Package ui serves forewarn's web UI: server-rendered pages for the
// Seclytics integration, indicator search and the lead-time dashboard, with
// their embedded assets.
//
// It drives the same store, runner, scheduler and lookup service as the
// REST API and must never re-implement their rules: configuration is
// parsed and validated by package config, runs are started by the runner.
// It must never send the access token or an API key to the browser, and
// never load anything from outside the process (it works offline).
package ui
