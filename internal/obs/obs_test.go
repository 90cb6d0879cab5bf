package obs

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestServe(t *testing.T) {
	ctx := context.Background()
	reg := NewRegistry()
	m := NewIngestMetrics(reg)
	m.SourceError("ftp-a", "list")
	h := NewHealth()
	broker := errors.New("dial tcp 127.0.0.1:9: connection refused")
	var brokerErr error
	h.Add("kafka", func(context.Context) error { return brokerErr })
	h.Add("source:a", func(context.Context) error { return nil })
	s, err := Serve(ctx, "127.0.0.1:0", reg, h, Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(ctx)
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + s.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name, path string
		setup      func()
		code       int
		contains   string
	}{
		{"healthz", "/healthz", func() {}, 200, "ok"},
		{"ready", "/readyz", func() { brokerErr = nil }, 200, "ready"},
		{"not ready names the check", "/readyz", func() { brokerErr = broker }, 503, "kafka: dial tcp"},
		{"metrics", "/metrics", func() {}, 200, `attnd_ingest_source_errors_total{op="list",source="ftp-a"} 1`},
	}
	for _, tc := range tests {
		tc.setup()
		code, body := get(tc.path)
		if code != tc.code || !strings.Contains(body, tc.contains) {
			t.Errorf("%s: %d %q, want %d containing %q", tc.name, code, body, tc.code, tc.contains)
		}
	}
}

func TestParseLevel(t *testing.T) {
	for _, s := range []string{"", "debug", "info", "warn", "error"} {
		if _, err := ParseLevel(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Error("loud accepted")
	}
}
