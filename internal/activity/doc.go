// Package activity defines the activity log: one record per feed run with
// its trigger, window, outcome, counts and first problems, and the one-screen
// summary the CLI prints.
//
// A run record is shown to people and stored; it must never carry a secret.
// Errors are scrubbed before they reach it.
package activity
