// Package activity defines the activity log: one record per feed run with
// its trigger, window, outcome, counts and first problems, and the one-screen
// summary the CLI prints.
//
// A run record is shown to people and stored; it must never carry a secret.
// Errors are scrubbed before they reach it. Its types are its own, never the
// pipeline's (merge, prediction): the record is stored and served by the
// API, so the pipeline must be free to change without moving it.
package activity
