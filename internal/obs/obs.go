// Package obs holds the observability helpers every daemon of the pipeline
// shares: a JSON slog logger with the common field names, a Prometheus registry
// of its own (never the global default), and an HTTP server for /metrics,
// /healthz (process alive) and /readyz (every registered check passes).
//
// Guarantee: nothing here holds package-global mutable state; a check that
// fails makes /readyz answer 503 with the failing check's name and error.
package obs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// The one field set of structured logs.
const (
	KeyComponent = "component" // the process: ingest, pusher, devstack
	KeyStage     = "stage"     // a part inside it: history, pusher, directory, kafka
	KeySource    = "source"
	KeyFile      = "file"
	KeySHA256    = "sha256"
	KeyLayout    = "layout"
	KeyEventID   = "event_id"
	KeyError     = "error"
)

// NewLogger returns a JSON slog logger writing to w at level, with component set.
func NewLogger(w io.Writer, level slog.Level, component string) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})).With(KeyComponent, component)
}

// Printf adapts log to the printf-style loggers of libraries (kafka-go's
// ErrorLogger), at level and with the stage field set, so their messages
// (a coordinator that cannot be reached, a partition read failing) are in
// the same structured log instead of lost.
func Printf(log *slog.Logger, level slog.Level, stage string) func(string, ...any) {
	return func(format string, args ...any) {
		log.Log(context.Background(), level, fmt.Sprintf(format, args...), KeyStage, stage)
	}
}

// ParseLevel maps debug|info|warn|error ("" = info) to a slog level.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if s == "" {
		return slog.LevelInfo, nil
	}
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q is not debug, info, warn or error", s)
	}
	return l, nil
}

// Discard is a logger that drops everything (tests).
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// NewRegistry returns a fresh registry with the Go and process collectors.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Check is one readiness probe (a broker, a source, a database).
type Check func(ctx context.Context) error

// Health is the set of readiness checks behind /readyz.
type Health struct {
	mu     sync.Mutex
	checks map[string]Check
	// Timeout bounds one /readyz evaluation (default 5 s).
	Timeout time.Duration
}

// NewHealth returns an empty check set.
func NewHealth() *Health { return &Health{checks: map[string]Check{}} }

// Add registers (or replaces) a named check.
func (h *Health) Add(name string, c Check) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks[name] = c
}

// Ready runs every check concurrently and returns the failures by name.
func (h *Health) Ready(ctx context.Context) map[string]error {
	h.mu.Lock()
	checks := make(map[string]Check, len(h.checks))
	for k, v := range h.checks {
		checks[k] = v
	}
	h.mu.Unlock()
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	failed := map[string]error{}
	for name, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c(ctx); err != nil {
				mu.Lock()
				failed[name] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return failed
}

// Handler serves /metrics from reg, /healthz and /readyz from h.
func Handler(reg *prometheus.Registry, h *Health) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		failed := h.Ready(r.Context())
		if len(failed) == 0 {
			io.WriteString(w, "ready\n")
			return
		}
		names := make([]string, 0, len(failed))
		for n := range failed {
			names = append(names, n)
		}
		sort.Strings(names)
		var b strings.Builder
		for _, n := range names {
			fmt.Fprintf(&b, "%s: %v\n", n, failed[n])
		}
		http.Error(w, b.String(), http.StatusServiceUnavailable)
	})
	return mux
}

// Server is a running observability HTTP server.
type Server struct {
	srv  *http.Server
	addr string
	done chan error
}

// Serve listens on addr (":0" picks a port) and serves Handler(reg, h) until Shutdown.
func Serve(ctx context.Context, addr string, reg *prometheus.Registry, h *Health, logger *slog.Logger) (*Server, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("obs: listen on %s: %w", addr, err)
	}
	s := &Server{
		srv:  &http.Server{Handler: Handler(reg, h), ReadHeaderTimeout: 10 * time.Second},
		addr: ln.Addr().String(),
		done: make(chan error, 1),
	}
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		if err != nil {
			logger.Error("http server stopped", KeyError, err.Error())
		}
		s.done <- err
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.addr }

// Shutdown stops the server, waiting for in-flight requests until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("obs: shut down http server: %w", err)
	}
	return <-s.done
}

// Value reads the current value of a counter or gauge (tests, status pages).
func Value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		return 0
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	}
	return 0
}
