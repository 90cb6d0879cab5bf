package main

import (
	"context"
	"fmt"
	"io"
)

// TODO(owner of pusher migrate): replace this placeholder.
func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "pusher migrate: not built yet")
	return 2
}
