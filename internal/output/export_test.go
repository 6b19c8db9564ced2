package output

// SetHeldBudget sets the largest budget held in memory, for tests of both
// ways of reading a budget; it returns a function restoring it.
func SetHeldBudget(n int) (restore func()) {
	old := heldBudget
	heldBudget = n
	return func() { heldBudget = old }
}
