// Command pusher consumes punch events, resolves employees, derives working
// days, pushes changed days to Daou Office and keeps the history in ClickHouse.
//
//	pusher run     --config FILE               consume, match, derive, push (daemon)
//	pusher derive  [flags] < punches.ndjson    print daily records (NDJSON)
//	pusher push    --config FILE --input F     push a file of daily records
//	pusher migrate --config FILE               apply ClickHouse migrations
//	pusher report  daily|late|missing|weekly-hours|gates|unmatched [flags]
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

type command func(ctx context.Context, args []string, stdout, stderr io.Writer) int

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	commands := map[string]command{
		"run":     cmdRun,
		"derive":  cmdDerive,
		"push":    cmdPush,
		"migrate": cmdMigrate,
		"report":  cmdReport,
	}
	if len(args) == 0 || commands[args[0]] == nil {
		fmt.Fprintln(stderr, "usage: pusher run|derive|push|migrate|report [flags]")
		return 2
	}
	return commands[args[0]](ctx, args[1:], stdout, stderr)
}
