// Package cli is forewarn's command line: it parses arguments, wires the
// store, the feed and the built-in Seclytics server together, and prints
// results. cmd/forewarn only calls [Run].
//
// It must never hold business logic (that lives in the packages it calls)
// and never print a secret: tokens are read from files or the environment,
// never echoed.
package cli
