//go:build !race

package feed

// raceSlowdown scales CPU-time budgets: 1 without the race detector.
const raceSlowdown = 1
