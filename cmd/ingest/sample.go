package main

import (
	"context"
	"fmt"
	"io"
)

// TODO(owner of ingest sample): replace this placeholder.
func cmdSample(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "ingest sample: not built yet")
	return 2
}
