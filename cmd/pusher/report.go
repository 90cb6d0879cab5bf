package main

import (
	"context"
	"fmt"
	"io"
)

// TODO(owner of pusher report): replace this placeholder.
func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "pusher report: not built yet")
	return 2
}
