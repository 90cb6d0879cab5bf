package main

import (
	"context"
	"fmt"
	"io"
)

// TODO(owner of pusher push): replace this placeholder.
func cmdPush(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "pusher push: not built yet")
	return 2
}
