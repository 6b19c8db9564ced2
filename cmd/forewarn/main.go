// Command forewarn ingests threat-intelligence feeds, starting with
// Seclytics Predictions, into a store you own.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"forewarn/internal/cli"
)

func main() {
	// A soft heap target keeps the garbage of a large run from doubling the
	// process's footprint; GOMEMLIMIT overrides it.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(128 << 20)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args, os.Stdout, os.Stderr, os.Getenv)
	stop()
	if err == nil {
		return
	}
	code := 1
	var ee *cli.ExitError
	if errors.As(err, &ee) {
		code = ee.Code
	}
	if ee == nil || ee.Err != nil {
		fmt.Fprintln(os.Stderr, "forewarn:", err)
	}
	os.Exit(code)
}
