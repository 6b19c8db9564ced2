// Package scheduler runs each enabled feed on its frequency, an interval or
// a cron expression, with github.com/go-co-op/gocron/v2.
//
// A feed never overlaps itself: its job is in singleton mode and waits for
// the run it started. A run missed while forewarn was down runs once at
// start-up, not once per missed interval, and a feed that never ran runs
// soon after it is enabled. Removing a feed's job (disabling the feed) does
// not cancel a run in progress; the run's context belongs to the runner.
package scheduler
