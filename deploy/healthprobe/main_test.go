package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			http.Error(w, "kafka: down", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	}))
	defer srv.Close()
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{srv.URL + "/healthz"}, 0},
		{[]string{srv.URL + "/readyz"}, 1},
		{[]string{"http://127.0.0.1:1/healthz"}, 1},
		{nil, 2},
		{[]string{"a", "b"}, 2},
	} {
		if got := run(c.args, io.Discard); got != c.want {
			t.Errorf("run(%q) = %d, want %d", c.args, got, c.want)
		}
	}
}
