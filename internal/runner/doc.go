// Package runner runs feeds in the background for a long-lived process
// (forewarn serve): it starts a run and returns its id as soon as the run is
// recorded, keeps each running run's live progress and cancel function,
// and, on shutdown, cancels every run and waits for it to roll back.
//
// The scheduler and the API both start runs through one Manager, so a feed
// never overlaps itself whoever starts it; the store's feed lock extends
// that guarantee to other processes.
package runner
