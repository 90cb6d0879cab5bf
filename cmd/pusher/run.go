package main

import (
	"context"
	"fmt"
	"io"
)

// TODO(owner of pusher run): replace this placeholder.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "pusher run: not built yet")
	return 2
}
