package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/publish/kafkatest"
	"github.com/attendance-pipeline/attnd/internal/source/ftpsrc/ftptest"
)

func httpGet(t testing.TB, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric sums the samples of name whose labels include every want pair
// (e.g. `source="lab-ftp"`); -1 when there is none.
func metric(body, name string, want ...string) float64 {
	sum, found := 0.0, false
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		series := line[:sp]
		labels := ""
		if i := strings.IndexByte(series, '{'); i >= 0 {
			series, labels = series[:i], series[i:]
		}
		if series != name {
			continue
		}
		ok := true
		for _, w := range want {
			if !strings.Contains(labels, w) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err == nil {
			sum += v
			found = true
		}
	}
	if !found {
		return -1
	}
	return sum
}

func waitFor(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if ctx.Err() != nil {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestMetricsAndReadiness runs the daemon (`ingest run`) with a folder
// source and an FTP source into kfake and checks /metrics (files by state,
// events, rejects, bytes, FTP errors, Kafka write latency) and /readyz,
// which must turn false when the FTP server or the broker goes away.
func TestMetricsAndReadiness(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c, addr := kafkatest.Fake(t, 1, 3, nil)
	root := t.TempDir()
	drops := genDrops(t, filepath.Join(root, "gen"), 40, 3, 5)
	srv := ftptest.StartServer(t, false)
	ftpDir := filepath.Join(srv.Root, "lab")
	if err := os.MkdirAll(ftpDir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyDir(t, drops["lab"], ftpDir)
	t.Setenv("TEST_FTP_PASSWORD", srv.Password)
	tr := newTruth()
	tr.add(t, drops["factory"], "factory", "", func(p string) string { return p })
	tr.add(t, ftpDir, "lab", "", func(p string) string { return p })

	listen := freeAddr(t)
	cfg := writeFile(t, filepath.Join(root, "ingest.yaml"), fmt.Sprintf(`state_dir: %s
http: {listen: "%s"}
retry: 200ms
kafka:
  brokers: ["%s"]
  partitions: 3
  write_timeout: 2s
  retries: 2
sources:
  - name: factory-drops
    type: dir
    path: %s
    site: factory
    min_age: 1ms
    poll_interval: 200ms
  - name: lab-ftp
    type: ftp
    url: %s/lab
    password_env: TEST_FTP_PASSWORD
    tls: none
    site: lab
    min_age: 1ms
    poll_interval: 200ms
    timeout: 2s
`, filepath.Join(root, "state"), listen, addr, drops["factory"], srv.URL))

	runCtx, stop := context.WithCancel(ctx)
	exited := make(chan int, 1)
	logs := newSyncBuffer()
	go func() { exited <- dispatch(runCtx, []string{"run", "--config", cfg}, logs, logs) }()
	defer func() {
		stop()
		if code := <-exited; code != 0 {
			t.Errorf("ingest run exited %d after the stop", code)
		}
	}()
	base := "http://" + listen

	waitFor(t, ctx, "/readyz 200", func() bool { code, _ := httpGet(t, base+"/readyz"); return code == 200 })
	if code, body := httpGet(t, base+"/healthz"); code != 200 {
		t.Fatalf("/healthz %d %s", code, body)
	}
	var body string
	waitFor(t, ctx, "every file done in /metrics", func() bool {
		_, body = httpGet(t, base+"/metrics")
		return metric(body, "attnd_ingest_files", `state="done"`) == float64(tr.files)
	})
	for _, s := range []struct{ source, site string }{{"factory-drops", "factory"}, {"lab-ftp", "lab"}} {
		src := `source="` + s.source + `"`
		if v := metric(body, "attnd_ingest_events_total", src); v != float64(tr.punchRows[s.site]) {
			t.Fatalf("events_total{%s} = %v, want %d", src, v, tr.punchRows[s.site])
		}
		if v := metric(body, "attnd_ingest_rejects_total", src); v != float64(tr.rejectRows[s.site]) {
			t.Fatalf("rejects_total{%s} = %v, want %d", src, v, tr.rejectRows[s.site])
		}
		if v := metric(body, "attnd_ingest_bytes_total", src); v != float64(tr.bytes[s.site]) {
			t.Fatalf("bytes_total{%s} = %v, want %d", src, v, tr.bytes[s.site])
		}
	}
	if v := metric(body, "attnd_ingest_files", `state="quarantined"`); v != 0 {
		t.Fatalf("files{state=quarantined} = %v", v)
	}
	if v := metric(body, "attnd_ingest_kafka_write_seconds_count", `outcome="ok"`); v < float64(tr.files) {
		t.Fatalf("kafka_write_seconds_count{ok} = %v, want at least one write per file (%d)", v, tr.files)
	}
	if v := metric(body, "attnd_ingest_source_errors_total", `source="lab-ftp"`); v > 0 {
		t.Fatalf("FTP errors counted while the server was up: %v", v)
	}

	// The FTP server goes away: not ready, FTP errors counted.
	srv.Stop(t)
	waitFor(t, ctx, "/readyz 503 naming the FTP source", func() bool {
		code, b := httpGet(t, base+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(b, "source:lab-ftp") && !strings.Contains(b, "kafka:")
	})
	waitFor(t, ctx, "FTP errors in /metrics", func() bool {
		_, body = httpGet(t, base+"/metrics")
		return metric(body, "attnd_ingest_source_errors_total", `source="lab-ftp"`) > 0
	})
	if _, b := httpGet(t, base+"/readyz"); strings.Contains(b, srv.Password) {
		t.Fatal("/readyz shows the FTP password")
	}
	srv.Restart(t)
	waitFor(t, ctx, "/readyz 200 after the FTP server is back", func() bool { code, _ := httpGet(t, base+"/readyz"); return code == 200 })

	// The broker goes away: not ready, naming kafka.
	c.Close()
	waitFor(t, ctx, "/readyz 503 naming kafka", func() bool {
		code, b := httpGet(t, base+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(b, "kafka:")
	})
	if strings.Contains(logs.String(), srv.Password) {
		t.Fatal("the FTP password appears in the logs")
	}
}
