package main

import (
	"context"
	"fmt"
	"io"
)

// TODO(owner of ingest run): replace this placeholder.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "ingest run: not built yet")
	return 2
}
