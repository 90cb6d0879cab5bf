package main

import (
	"context"
	"fmt"
	"io"
)

// TODO(owner of ingest parse): replace this placeholder.
func cmdParse(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "ingest parse: not built yet")
	return 2
}
