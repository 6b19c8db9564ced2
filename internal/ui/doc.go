// Package ui serves forewarn's web UI: server-rendered pages for the
// Seclytics integration (configuration and activity log), indicator search
// and detail, lookup, the allow-list, exports, API keys, the audit log and
// the lead-time dashboard, with their embedded assets. One resolver
// (verdict.go) explains every address, for the lookup page and a search
// alike, in one colour language.
//
// It drives the same store, runner, scheduler and lookup service as the
// REST API and must never re-implement their rules: configuration is
// parsed and validated by package config, every change goes through
// package service (which also decides that a feed runs once at a time). It
// must never send the access token or an API key to the browser (but a new
// key, once, on the answer that created it), never load anything from
// outside the process (it works offline), never link an address to another
// site but through the pivots the administrator configured, and never
// answer with a bare-text page: refusals are full pages with the
// navigation.
package ui
