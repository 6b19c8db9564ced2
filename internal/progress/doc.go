// Package progress draws a one-line progress bar of a running feed run on a
// terminal: phase, bytes downloaded (of the total when known), rows read
// and their rate.
//
// It only reads counters and writes to the terminal it is given. It must
// never write when the output is not a terminal, so that logs and pipes stay
// clean.
package progress
