// Package chtest gives tests a ClickHouse to talk to: the embedded engine
// (libchdb behind internal/chserver's HTTP front), started once per test
// process, and a fresh database per test.
//
// Guarantees: URL always returns the same engine within a process; Database
// returns a database no other test uses and drops it when the test ends. If
// the engine cannot start, the test fails (never skips) with a message
// naming scripts/setup-chdb.sh. Setting ATTND_CLICKHOUSE_URL points every
// test at that ClickHouse HTTP URL instead of starting the engine.
//
// The engine is a process-wide singleton (libchdb allows one per process);
// its data lives in a temporary folder that is left behind when the test
// process exits.
package chtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/chdb"
	"github.com/attendance-pipeline/attnd/internal/chserver"
)

// EnvURL names the variable that, when set, replaces the embedded engine
// with a ClickHouse reachable at that HTTP URL.
const EnvURL = "ATTND_CLICKHOUSE_URL"

// The one engine of the test process.
var (
	once     sync.Once
	baseURL  string
	startErr error
)

func start() (string, error) {
	if u := os.Getenv(EnvURL); u != "" {
		return strings.TrimRight(u, "/"), nil
	}
	removeStale()
	dir, err := os.MkdirTemp("", fmt.Sprintf("attnd-chdb-test-%d-", os.Getpid()))
	if err != nil {
		return "", fmt.Errorf("chtest: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sess, err := chdb.Open(ctx, dir, log)
	if err != nil {
		return "", err
	}
	h, err := chserver.NewHandler(ctx, sess, log)
	if err != nil {
		sess.Close()
		return "", err
	}
	srv, err := chserver.Listen(ctx, "127.0.0.1:0", h, log)
	if err != nil {
		sess.Close()
		return "", err
	}
	return srv.URL, nil
}

// removeStale deletes the engine folders of test processes that are gone:
// the engine lives as long as its process, so nothing else removes them.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "attnd-chdb-test-*-*"))
	for _, d := range dirs {
		var pid int
		if _, err := fmt.Sscanf(filepath.Base(d), "attnd-chdb-test-%d-", &pid); err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}

// URL returns the base URL (http://127.0.0.1:port) of the test process's
// ClickHouse, starting the embedded engine on first use.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(func() { baseURL, startErr = start() })
	if startErr != nil {
		t.Fatalf("chtest: the embedded ClickHouse engine did not start: %v\n"+
			"run `bash scripts/setup-chdb.sh` (or `make setup`) to fetch libchdb.so, or set %s", startErr, chdb.EnvLib)
	}
	return baseURL
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

// Database creates a fresh, uniquely named database and drops it when the
// test ends.
func Database(t testing.TB) string {
	t.Helper()
	base := URL(t)
	name := unsafeChars.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	var b [4]byte
	rand.Read(b[:])
	name = "t_" + strings.Trim(name, "_") + "_" + hex.EncodeToString(b[:])
	if err := Exec(context.Background(), base, "CREATE DATABASE "+chdb.QuoteIdent(name)); err != nil {
		t.Fatalf("chtest: create database: %v", err)
	}
	t.Cleanup(func() {
		if err := Exec(context.Background(), base, "DROP DATABASE IF EXISTS "+chdb.QuoteIdent(name)); err != nil {
			t.Errorf("chtest: drop database %s: %v", name, err)
		}
	})
	return name
}

// Exec runs one statement through ClickHouse's HTTP interface at baseURL.
func Exec(ctx context.Context, baseURL, query string) error {
	_, err := Query(ctx, baseURL, query)
	return err
}

// Query runs one statement through ClickHouse's HTTP interface at baseURL
// (POST, query as body) and returns the response body.
func Query(ctx context.Context, baseURL, query string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/", strings.NewReader(query))
	if err != nil {
		return nil, fmt.Errorf("chtest: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("chtest: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("chtest: %s: %w", query, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("chtest: %s: HTTP %d: %s", query, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// QueryURL is the URL of a GET of query against baseURL.
func QueryURL(baseURL, query string) string {
	return baseURL + "/?query=" + url.QueryEscape(query)
}
