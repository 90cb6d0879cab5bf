package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/attendance-pipeline/attnd/internal/history"
)

// cmdMigrate applies the ClickHouse migrations of the config's clickhouse:
// section (the cluster variant when clickhouse.cluster is set). Exit 0 when
// the schema is current, 1 on failure, 2 on bad usage or config.
func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pusher migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "pusher config file (YAML; only the clickhouse: section is read)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *config == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: pusher migrate --config FILE")
		return 2
	}
	cfg, err := history.ReadConfigFile(*config)
	if err != nil {
		fmt.Fprintln(stderr, "pusher migrate:", err)
		return 2
	}
	conn, err := cfg.Open(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "pusher migrate:", err)
		return 1
	}
	defer conn.Close()
	var applied []history.Migration
	if cfg.Cluster != "" {
		applied, err = history.MigrateCluster(ctx, conn, cfg.Database, cfg.Cluster)
	} else {
		applied, err = history.Migrate(ctx, conn, cfg.Database)
	}
	for _, m := range applied {
		fmt.Fprintf(stdout, "applied %s\n", m.Name)
	}
	if err != nil {
		fmt.Fprintln(stderr, "pusher migrate:", err)
		return 1
	}
	fmt.Fprintf(stdout, "database %s is current (%d migrations applied now)\n", cfg.Database, len(applied))
	return 0
}
