package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/attendance-pipeline/attnd/internal/gcbudget"
	"github.com/attendance-pipeline/attnd/internal/ingest"
	"github.com/attendance-pipeline/attnd/internal/obs"
)

// cmdRun: ingest run --config FILE [--once]
//
// Exit codes: 0 done (--once) or stopped by a signal; 1 a source or Kafka
// failed (--once) or the ingest could not start; 2 usage or config error.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ingest run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "config file (YAML)")
	once := fs.Bool("once", false, "process what is ready now, wait until it is done, and exit (non-zero if a source is unreachable or a file failed)")
	settle := fs.Duration("settle", time.Second, "with --once: pause between looks at a source (files are ready after two looks)")
	listen := fs.String("listen", "", "override http.listen (host:port or off)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *configPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: ingest run --config FILE [--once] [--settle 1s] [--listen host:port|off]")
		return 2
	}
	cfg, err := ingest.LoadConfig(*configPath, nil)
	if err != nil {
		fmt.Fprintf(stderr, "ingest run: %v\n", err)
		return 2
	}
	if *listen != "" {
		cfg.HTTP.Listen = *listen
	}
	level, _ := obs.ParseLevel(cfg.Log.Level)
	logger := obs.NewLogger(stderr, level, "ingest")
	gc, restoreGC := gcbudget.Apply(cfg.MemoryLimit, os.LookupEnv)
	defer restoreGC()
	logger.Info("memory", "gc", gc)

	reg := obs.NewRegistry()
	metrics := obs.NewIngestMetrics(reg)
	in, err := ingest.New(ctx, cfg, ingest.Factories(metrics), logger, metrics)
	if err != nil {
		logger.Error("cannot build the ingest", obs.KeyError, err.Error())
		return 1
	}
	defer in.Close()

	health := obs.NewHealth()
	for name, c := range in.Checks() {
		health.Add(name, c)
	}
	if cfg.HTTP.Listen != "off" {
		srv, err := obs.Serve(ctx, cfg.HTTP.Listen, reg, health, logger)
		if err != nil {
			logger.Error("cannot serve metrics and health", obs.KeyError, err.Error())
			return 1
		}
		logger.Info("serving /metrics /healthz /readyz", "addr", srv.Addr())
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
		}()
	}

	if *once {
		if failed := health.Ready(ctx); len(failed) > 0 {
			for name, err := range failed {
				logger.Error("not reachable", "check", name, obs.KeyError, err.Error())
			}
			return 1
		}
		if err := in.Start(ctx); err != nil {
			logger.Error("cannot start", obs.KeyError, err.Error())
			return 1
		}
		if err := in.Once(ctx, *settle); err != nil {
			logger.Error("run --once finished with errors", obs.KeyError, err.Error())
			return 1
		}
		logger.Info("run --once done")
		return 0
	}

	// Daemon: wait for Kafka (creating topics) without giving up; /readyz says why.
	for backoff := time.Second; ; {
		err := in.Start(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return 0
		}
		logger.Warn("kafka not ready, retrying", obs.KeyError, err.Error(), "in", backoff.String())
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(backoff):
		}
		if backoff *= 2; backoff > 30*time.Second {
			backoff = 30 * time.Second
		}
	}
	logger.Info("ingest running", "sources", len(cfg.Sources))
	in.Run(ctx)
	logger.Info("ingest stopped")
	return 0
}
