package main

import (
	"context"
	"fmt"
	"io"
)

// TODO(owner of pusher derive): replace this placeholder.
func cmdDerive(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "pusher derive: not built yet")
	return 2
}
