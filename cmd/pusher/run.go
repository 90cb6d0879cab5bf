package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/attendance-pipeline/attnd/internal/gcbudget"
	"github.com/attendance-pipeline/attnd/internal/obs"
	"github.com/attendance-pipeline/attnd/internal/pusher"
)

// cmdRun: pusher run --config FILE
//
// Exit codes: 0 stopped by a signal; 1 a component failed or Daou reported a
// configuration error; 2 usage or config error.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pusher run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "config file (YAML)")
	listen := fs.String("listen", "", "override http.listen (host:port or off)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *configPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: pusher run --config FILE [--listen host:port|off]")
		return 2
	}
	cfg, err := pusher.LoadConfig(*configPath, nil)
	if err != nil {
		fmt.Fprintf(stderr, "pusher run: %v\n", err)
		return 2
	}
	if *listen != "" {
		cfg.HTTP.Listen = *listen
	}
	level, _ := obs.ParseLevel(cfg.Log.Level)
	logger := obs.NewLogger(stderr, level, "pusher")
	gc, restoreGC := gcbudget.Apply(cfg.MemoryLimit, os.LookupEnv)
	defer restoreGC()
	logger.Info("memory", "gc", gc)
	reg := obs.NewRegistry()

	d, err := pusher.Start(ctx, cfg, nil, logger, reg)
	if err != nil {
		logger.Error("cannot start", obs.KeyError, err.Error())
		return 1
	}
	defer d.Close()
	if cfg.HTTP.Listen != "off" {
		srv, err := obs.Serve(ctx, cfg.HTTP.Listen, reg, d.Health(), logger)
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
	if err := d.Wait(); err != nil {
		logger.Error("pusher stopped", obs.KeyError, err.Error())
		return 1
	}
	return 0
}
