package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/parsers"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
	"github.com/attendance-pipeline/attnd/internal/publish/kafkatest"
	"github.com/attendance-pipeline/attnd/internal/sample"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// reexecEnv makes the test binary behave as the ingest command (crash test).
const reexecEnv = "ATTND_INGEST_AS_COMMAND"

func TestMain(m *testing.M) {
	if os.Getenv(reexecEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// genDrops writes sample drops (people employees, days weekdays from
// 2026-03-02) under dir and gives every file an old mtime. It returns the
// drop folder of each site (drops/<site>).
func genDrops(t testing.TB, dir string, people, days int, seed uint64) map[string]string {
	t.Helper()
	from := time.Date(2026, 3, 2, 0, 0, 0, 0, parsekit.Seoul())
	if _, err := sample.Generate(sample.Config{
		Dir: dir, From: from, To: from.AddDate(0, 0, days-1), People: people, Unmatched: 3,
		Seed: seed, Location: parsekit.Seoul(), BadRows: true,
	}); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range sample.Sites {
		d := filepath.Join(dir, "drops", s.Name)
		out[s.Name] = d
		ageAll(t, d)
	}
	return out
}

func ageAll(t testing.TB, dir string) {
	t.Helper()
	old := time.Now().Add(-2 * time.Hour)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if err := os.Chtimes(filepath.Join(dir, e.Name()), old, old); err != nil {
			t.Fatal(err)
		}
	}
}

// truth is what the ingest must put on Kafka for a set of files, computed by
// parsing them directly.
type truth struct {
	events  map[string]attendance.Punch  // event_id -> punch
	rejects map[string]attendance.Reject // reject_id -> reject
	sha     map[string]string            // source_file (as the ingest names it) -> sha256
	files   int
	// Emitted rows and bytes read, by site (duplicates within files counted).
	punchRows, rejectRows, bytes map[string]int
}

func newTruth() *truth {
	return &truth{events: map[string]attendance.Punch{}, rejects: map[string]attendance.Reject{}, sha: map[string]string{},
		punchRows: map[string]int{}, rejectRows: map[string]int{}, bytes: map[string]int{}}
}

// add parses every file of dir for site with a layout hint ("" = auto); name maps a local path to the path
// the ingest will report (dir: the same; ftp: the server path).
func (tr *truth) add(t testing.TB, dir, site, layout string, name func(string) string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(raw)
		tr.sha[name(p)] = hex.EncodeToString(sum[:])
		tr.files++
		tr.bytes[site] += len(raw)
		_, err = parsers.Parse(context.Background(), bytes.NewReader(raw), parsers.Request{
			Name: e.Name(), Layout: layout, Options: parsekit.Options{Site: site, File: name(p)},
		}, tr)
		if err != nil {
			t.Fatalf("parse %s: %v", p, err)
		}
	}
}

func (tr *truth) Punch(p attendance.Punch) error {
	tr.events[p.EventID] = p
	tr.punchRows[p.Site]++
	return nil
}

func (tr *truth) Reject(r attendance.Reject) error {
	tr.rejects[r.RejectID] = r
	tr.rejectRows[r.Site]++
	return nil
}

// schema compiles a schema of the repo's schemas/ folder, formats asserted.
func schema(t testing.TB, name string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	s, err := c.Compile(filepath.Join(kafkatest.RepoRoot(t), "schemas", name))
	if err != nil {
		t.Fatalf("compile schema %s: %v", name, err)
	}
	return s
}

func validate(t testing.TB, s *jsonschema.Schema, value []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(value))
	if err != nil {
		t.Fatalf("value is not JSON: %v: %s", err, value)
	}
	if err := s.Validate(inst); err != nil {
		t.Fatalf("value does not match the schema: %v\n%s", err, value)
	}
}

// diffIDs describes how the distinct ids on a topic differ from want ("" = same set).
func diffIDs[V any](got map[string]int, want map[string]V) string {
	var missing, foreign []string
	for id := range want {
		if got[id] == 0 {
			missing = append(missing, id)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			foreign = append(foreign, id)
		}
	}
	if len(missing) == 0 && len(foreign) == 0 {
		return ""
	}
	sort.Strings(missing)
	sort.Strings(foreign)
	return fmt.Sprintf("%d of %d expected ids missing (e.g. %v), %d foreign ids (e.g. %v)",
		len(missing), len(want), head(missing), len(foreign), head(foreign))
}

func head(s []string) []string {
	if len(s) > 3 {
		return s[:3]
	}
	return s
}

func writeFile(t testing.TB, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// copyDir copies the regular files of src into dst with src's mtimes.
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
	ageAll(t, dst)
}

// syncBuffer is a goroutine-safe log sink for in-process runs.
type syncBuffer struct {
	ch chan []byte
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.ch <- nil
	defer func() { <-s.ch }()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.ch <- nil
	defer func() { <-s.ch }()
	return s.b.String()
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{ch: make(chan []byte, 1)} }

// decodePunch decodes a punches-topic value.
func decodePunch(t testing.TB, v []byte) attendance.Punch {
	t.Helper()
	var p attendance.Punch
	if err := json.Unmarshal(v, &p); err != nil {
		t.Fatalf("punch value: %v", err)
	}
	return p
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
