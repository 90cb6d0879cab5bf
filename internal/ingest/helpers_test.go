package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/parsers"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
	"github.com/attendance-pipeline/attnd/internal/publish"
	"github.com/attendance-pipeline/attnd/internal/publish/kafkatest"
)

var allTopics = []string{publish.DefaultPunchesTopic, publish.DefaultRejectsTopic, publish.DefaultFilesTopic}

// telecopDrop writes a telecop-report-csv drop of rows punches (unique per
// seed) plus bad rows every badEvery rows (0 = none), with an old mtime.
func telecopDrop(t testing.TB, path string, seed, rows, badEvery int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("인증일시,요일,사원번호,이름,인증모드\n")
	base := time.Date(2024, 1, 1, 7, 0, 0, 0, time.UTC)
	for i := 0; i < rows; i++ {
		if badEvery > 0 && i%badEvery == badEvery-1 {
			fmt.Fprintf(&b, "not-a-time,금,%07d,김민수,출근\n", 1000000+seed)
			continue
		}
		at := base.Add(time.Duration(seed)*24*time.Hour + time.Duration(i)*time.Second)
		mode := "출근"
		if i%2 == 1 {
			mode = "퇴근"
		}
		fmt.Fprintf(&b, "%s,금,%07d,사원%d,%s\n", at.Format("2006-01-02 15:04:05"), 1000000+seed*1000+i%997, i, mode)
	}
	writeOld(t, path, b.String())
}

// writeOld drops a file with an old mtime the way vendor programs and FTP
// servers do: written elsewhere, then renamed into place, so a watching
// ingest never sees it half written (which would leave a failed ledger entry
// for the partial content beside the done one).
func writeOld(t testing.TB, path, content string) {
	t.Helper()
	tmp := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(tmp, old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// expected parses a file the way the ingest does and returns its event and reject ids.
func expected(t testing.TB, path, site string) (events, rejects map[string]bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := &collect{events: map[string]bool{}, rejects: map[string]bool{}}
	_, err = parsers.Parse(context.Background(), f, parsers.Request{Name: filepath.Base(path), Options: parsekit.Options{Site: site, File: path}}, c)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return c.events, c.rejects
}

type collect struct{ events, rejects map[string]bool }

func (c *collect) Punch(p attendance.Punch) error   { c.events[p.EventID] = true; return nil }
func (c *collect) Reject(r attendance.Reject) error { c.rejects[r.RejectID] = true; return nil }

// onTopic returns the event ids on the punches topic with their counts.
func onTopic(t testing.TB, addr string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, m := range kafkatest.ReadAll(t, addr, publish.DefaultPunchesTopic) {
		var p attendance.Punch
		if err := json.Unmarshal(m.Value, &p); err != nil {
			t.Fatal(err)
		}
		if len(m.Headers) != 0 {
			t.Fatalf("punch %s with headers %v", p.EventID, m.Headers)
		}
		got[p.EventID]++
	}
	return got
}

func rejectsOnTopic(t testing.TB, addr string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, m := range kafkatest.ReadAll(t, addr, publish.DefaultRejectsTopic) {
		got[kafkatest.Header(m, "reject_id")]++
	}
	return got
}

// sameIDs fails unless got holds exactly the ids of want (duplicates allowed).
func sameIDs(t testing.TB, what string, got map[string]int, want map[string]bool) {
	t.Helper()
	missing := 0
	for id := range want {
		if got[id] == 0 {
			missing++
		}
	}
	foreign := 0
	for id := range got {
		if !want[id] {
			foreign++
		}
	}
	if missing > 0 || foreign > 0 {
		t.Fatalf("%s: %d of %d expected ids missing, %d foreign ids on the topic", what, missing, len(want), foreign)
	}
}

func union(ms ...map[string]bool) map[string]bool {
	out := map[string]bool{}
	for _, m := range ms {
		for k := range m {
			out[k] = true
		}
	}
	return out
}

// testConfig is a YAML config for one dir source.
func testConfig(stateDir, brokers, dropDir, after string, extra string) string {
	return fmt.Sprintf(`state_dir: %s
http: {listen: "off"}
retry: 1ms
kafka:
  brokers: [%s]
  chunk_size: 500
  partitions: 3
  write_timeout: 5s
  retries: 3
sources:
  - name: hq-drops
    type: dir
    path: %s
    site: hq
    after: %q
    min_age: 1ms
    poll_interval: 100ms
%s`, stateDir, brokers, dropDir, after, extra)
}

func fmtSscanPort(addr string, port *int) (int, error) {
	i := strings.LastIndexByte(addr, ':')
	return fmt.Sscan(addr[i+1:], port)
}
