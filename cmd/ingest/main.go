// Command ingest picks up vendor export drops, parses them into normalized
// punch events and publishes them (and rejects) to Kafka.
//
//	ingest parse [flags] FILE...       parse files to NDJSON on stdout
//	ingest run --config FILE [--once]  watch sources and publish to Kafka
//	ingest sample [flags]              generate realistic drops
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // Asia/Seoul on a vendor PC without a zone database (Windows)
)

type command func(ctx context.Context, args []string, stdout, stderr io.Writer) int

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	commands := map[string]command{
		"parse":  cmdParse,
		"run":    cmdRun,
		"sample": cmdSample,
	}
	if len(args) == 0 || commands[args[0]] == nil {
		fmt.Fprintln(stderr, "usage: ingest parse|run|sample [flags]")
		return 2
	}
	return commands[args[0]](ctx, args[1:], stdout, stderr)
}
