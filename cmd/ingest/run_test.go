package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/ledger"
	"github.com/attendance-pipeline/attnd/internal/publish"
	"github.com/attendance-pipeline/attnd/internal/publish/kafkatest"
	"github.com/attendance-pipeline/attnd/internal/source/ftpsrc/ftptest"
)

// TestRunOnceDirAndFTP runs `ingest run --once` with a folder source (Secom
// drops) and an FTP source (Telecop drops on a real vsftpd) into kfake, and checks every punch and
// reject against the files parsed directly: key, schema, headers.
func TestRunOnceDirAndFTP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, addr := kafkatest.Fake(t, 1, 3, nil) // the ingest creates the topics
	root := t.TempDir()
	drops := genDrops(t, filepath.Join(root, "gen"), 60, 3, 7)

	srv := ftptest.StartServer(t, false)
	ftpDir := filepath.Join(srv.Root, "lab")
	if err := os.MkdirAll(ftpDir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyDir(t, drops["lab"], ftpDir)
	t.Setenv("TEST_FTP_PASSWORD", srv.Password)

	tr := newTruth()
	same := func(p string) string { return p }
	tr.add(t, drops["factory"], "factory", "", same)
	tr.add(t, ftpDir, "lab", "", func(p string) string { return path.Join(srv.Root, "lab", filepath.Base(p)) })
	if len(tr.events) == 0 || len(tr.rejects) == 0 {
		t.Fatalf("generated drops hold %d punches and %d rejects; want some of each", len(tr.events), len(tr.rejects))
	}

	state := filepath.Join(root, "state")
	cfg := writeFile(t, filepath.Join(root, "ingest.yaml"), fmt.Sprintf(`state_dir: %s
http: {listen: "off"}
kafka:
  brokers: ["%s"]
  topics: {punches: attendance.punches.v1, rejects: attendance.rejects.v1}
  partitions: 3
sources:
  - name: factory-drops
    type: dir
    path: %s
    site: factory
    vendor: secom
    after: leave
    min_age: 1ms
  - name: lab-ftp
    type: ftp
    url: %s/lab
    password_env: TEST_FTP_PASSWORD
    tls: none
    site: lab
    vendor: auto
    layout: auto
    after: leave
    min_age: 1ms
`, state, addr, drops["factory"], srv.URL))

	logs := newSyncBuffer()
	if code := dispatch(ctx, []string{"run", "--config", cfg, "--once", "--settle", "200ms"}, logs, logs); code != 0 {
		t.Fatalf("ingest run --once exited %d\n%s", code, logs)
	}
	if contains(logs.String(), srv.Password) {
		t.Fatal("the FTP password appears in the logs")
	}

	checkTopics(t, addr, tr)
	bySite := map[string]int{}
	for _, p := range tr.events {
		bySite[p.Site]++
	}
	if bySite["factory"] == 0 || bySite["lab"] == 0 {
		t.Fatalf("punches by site %v: every source must contribute", bySite)
	}

	// Ledger: every file done once, by the source that holds it.
	led, err := ledger.Open(ctx, state)
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	all, err := led.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != tr.files {
		t.Fatalf("ledger has %d entries for %d files", len(all), tr.files)
	}
	bySource := map[string]int{}
	for _, e := range all {
		if e.State != attendance.FileDone || tr.sha[e.Path] != e.SHA256 {
			t.Fatalf("ledger entry %+v: want done with the file's sha256", e)
		}
		bySource[e.Source]++
	}
	if bySource["lab-ftp"] == 0 || bySource["factory-drops"] == 0 {
		t.Fatalf("ledger entries by source %v", bySource)
	}
}

// checkTopics checks the punches and rejects topics against the files parsed
// directly: exactly the expected ids, each once (a run without faults), keys
// (site + employee number, card when none; site/file for rejects), values
// valid against schemas/, and the source_file, sha256 and layout headers.
func checkTopics(t *testing.T, addr string, tr *truth) {
	t.Helper()
	// Punches: every expected event id, keyed by site + employee (card when
	// none), values matching the schema, headers naming file, sha and layout.
	punchSchema := schema(t, "punch-event.v1.json")
	got := map[string]int{}
	for _, m := range kafkatest.ReadAll(t, addr, publish.DefaultPunchesTopic) {
		validate(t, punchSchema, m.Value)
		p := decodePunch(t, m.Value)
		got[p.EventID]++
		want := p.Site + "/" + p.EmployeeNo
		if p.EmployeeNo == "" {
			want = p.Site + "/card:" + p.CardMasked
			if p.CardHash != "" {
				want = p.Site + "/card:" + p.CardHash
			}
		}
		if string(m.Key) != want {
			t.Fatalf("punch %s: key %q, want %q", p.EventID, m.Key, want)
		}
		exp, ok := tr.events[p.EventID]
		if !ok {
			continue // reported by diffIDs below
		}
		if p.Site != exp.Site || p.EmployeeNo != exp.EmployeeNo || !p.OccurredAt.Equal(exp.OccurredAt) || p.Mode != exp.Mode {
			t.Fatalf("punch %s on the topic %+v differs from the parsed file %+v", p.EventID, p, exp)
		}
		if tr.sha[p.SourceFile] == "" {
			t.Fatalf("punch %s: source_file %q is not one of the drops", p.EventID, p.SourceFile)
		}
		if len(m.Headers) != 0 {
			t.Fatalf("punch %s: headers %v; punch messages carry none (the value holds every field)", p.EventID, m.Headers)
		}
	}
	if d := diffIDs(got, tr.events); d != "" {
		t.Fatalf("punches topic: %s", d)
	}
	for id, n := range got {
		if n != 1 {
			t.Fatalf("event %s published %d times in a run without faults", id, n)
		}
	}

	// Rejects: every expected reject id, keyed by site/file, schema, headers.
	rejectSchema := schema(t, "reject.v1.json")
	gotRej := map[string]int{}
	for _, m := range kafkatest.ReadAll(t, addr, publish.DefaultRejectsTopic) {
		validate(t, rejectSchema, m.Value)
		var r attendance.Reject
		if err := json.Unmarshal(m.Value, &r); err != nil {
			t.Fatal(err)
		}
		gotRej[r.RejectID]++
		if string(m.Key) != r.Site+"/"+r.File {
			t.Fatalf("reject %s: key %q", r.RejectID, m.Key)
		}
		if kafkatest.Header(m, "source_file") != r.File || kafkatest.Header(m, "sha256") != tr.sha[r.File] || kafkatest.Header(m, "layout") != r.Layout {
			t.Fatalf("reject %s: headers %v do not match file %s (sha %s)", r.RejectID, m.Headers, r.File, tr.sha[r.File])
		}
	}
	if d := diffIDs(gotRej, tr.rejects); d != "" {
		t.Fatalf("rejects topic: %s", d)
	}

}
