// Package feed runs the Seclytics Predictions feed end to end, one stage
// after the other: fetch → decode → parse → filter → map and stage → merge
// → store. It picks the run's date window, keeps the activity log and
// reports progress. The dump package decodes the body; parsing and
// filtering are the seclytics feed definition's (internal/feeddef), with
// the configuration's settings as its parameters.
//
// A run commits completely or not at all: every row is staged first, and
// the store is written in one transaction only once the whole dump has been
// read and checked. It must never leave a run "running" when it returns, and
// never let the access token reach a run record, an error or a log line.
package feed
