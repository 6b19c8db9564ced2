//go:build race

package feed

// raceSlowdown scales CPU-time budgets: the race detector makes the same
// work cost several times more.
const raceSlowdown = 3
