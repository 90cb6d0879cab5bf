package dirsrc

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/source"
)

func names(fs []source.File) []string {
	var out []string
	for _, f := range fs {
		out = append(out, filepath.Base(f.Path))
	}
	sort.Strings(out)
	return out
}

func write(t *testing.T, path, content string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func newSrc(t *testing.T, spec source.Spec, opts ...Option) *Source {
	t.Helper()
	if spec.Name == "" {
		spec.Name = "hq"
	}
	s, err := New(spec, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestGrowingFileNotTakenUntilStable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Date(2024, 1, 5, 9, 0, 0, 0, time.UTC)
	s := newSrc(t, source.Spec{Path: dir, MinAge: 30 * time.Second}, WithoutWatch(), WithClock(func() time.Time { return now }))
	p := filepath.Join(dir, "a.csv")
	old := now.Add(-time.Minute)

	steps := []struct {
		name   string
		change func()
		want   []string
	}{
		{"first look never ready", func() { write(t, p, "head\n", old) }, nil},
		{"grew since last look", func() { write(t, p, "head\nrow1\n", old) }, nil},
		{"mtime moved since last look", func() { write(t, p, "head\nrow1\n", old.Add(time.Second)) }, nil},
		{"held still but younger than MinAge", func() { write(t, p, "head\nrow1\n", now.Add(-10*time.Second)) }, nil},
		{"still too young", func() {}, nil},
		{"old enough and still", func() { now = now.Add(25 * time.Second) }, []string{"a.csv"}},
	}
	for _, st := range steps {
		st.change()
		got, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !equal(names(got), st.want) {
			t.Fatalf("%s: listed %v, want %v", st.name, names(got), st.want)
		}
	}
}

func TestGlobs(t *testing.T) {
	ctx := context.Background()
	old := time.Now().Add(-time.Hour)
	tests := []struct {
		name             string
		include, exclude []string
		want             []string
	}{
		{"everything but hidden", nil, nil, []string{"T_SECOM_ALARM_1.csv", "a.csv", "b.txt", "c.csv.tmp"}},
		{"include csv", []string{"*.csv"}, nil, []string{"T_SECOM_ALARM_1.csv", "a.csv"}},
		{"include two", []string{"*.csv", "*.txt"}, nil, []string{"T_SECOM_ALARM_1.csv", "a.csv", "b.txt"}},
		{"exclude tmp", nil, []string{"*.tmp"}, []string{"T_SECOM_ALARM_1.csv", "a.csv", "b.txt"}},
		{"include and exclude", []string{"*.csv"}, []string{"T_*"}, []string{"a.csv"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, n := range []string{"a.csv", "b.txt", "c.csv.tmp", ".hidden.csv", "T_SECOM_ALARM_1.csv"} {
				write(t, filepath.Join(dir, n), "x\n", old)
			}
			if err := os.Mkdir(filepath.Join(dir, "sub.csv"), 0o755); err != nil {
				t.Fatal(err)
			}
			s := newSrc(t, source.Spec{Path: dir, Include: tc.include, Exclude: tc.exclude}, WithoutWatch())
			s.List(ctx) // first look
			got, err := s.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !equal(names(got), tc.want) {
				t.Fatalf("listed %v, want %v", names(got), tc.want)
			}
		})
	}
	if _, err := New(source.Spec{Name: "x", Path: t.TempDir(), Include: []string{"[bad"}}, nil); err == nil {
		t.Fatal("bad glob accepted")
	}
}

func TestAfterActionsOnlyInFinish(t *testing.T) {
	ctx := context.Background()
	old := time.Now().Add(-time.Hour)
	tests := []struct {
		after     string
		leftThere bool
		movedTo   string // subdir of the test root
	}{
		{"leave", true, ""},
		{"", true, ""},
		{"delete", false, ""},
		{"move:DONE", false, "done"},
	}
	for _, tc := range tests {
		t.Run(tc.after, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "drops")
			os.Mkdir(dir, 0o755)
			after := tc.after
			if tc.movedTo != "" {
				after = "move:" + filepath.Join(root, tc.movedTo)
			}
			p := filepath.Join(dir, "a.csv")
			write(t, p, "x\n", old)
			s := newSrc(t, source.Spec{Path: dir, After: after}, WithoutWatch())
			s.List(ctx)
			files, err := s.List(ctx)
			if err != nil || len(files) != 1 {
				t.Fatalf("list %v %v", files, err)
			}
			rc, err := s.Open(ctx, files[0])
			if err != nil {
				t.Fatal(err)
			}
			rc.Close()
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("file touched before Finish: %v", err)
			}
			if err := s.Finish(ctx, files[0]); err != nil {
				t.Fatal(err)
			}
			_, err = os.Stat(p)
			if there := err == nil; there != tc.leftThere {
				t.Fatalf("after Finish file there=%v, want %v", there, tc.leftThere)
			}
			if tc.movedTo != "" {
				if b, err := os.ReadFile(filepath.Join(root, tc.movedTo, "a.csv")); err != nil || string(b) != "x\n" {
					t.Fatalf("moved file: %q %v", b, err)
				}
				// A second drop of the same name never overwrites the first.
				write(t, p, "y\n", old)
				if err := s.Finish(ctx, files[0]); err != nil {
					t.Fatal(err)
				}
				ents, _ := os.ReadDir(filepath.Join(root, tc.movedTo))
				if len(ents) != 2 {
					t.Fatalf("done dir has %d files, want 2", len(ents))
				}
			}
		})
	}
	if _, err := New(source.Spec{Name: "x", Path: t.TempDir(), After: "mv:/x"}, nil); err == nil {
		t.Fatal("bad after accepted")
	}
}

func TestNotifyOnCreateAndSettle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := newSrc(t, source.Spec{Path: dir})
	write(t, filepath.Join(dir, "a.csv"), "x\n", time.Now().Add(-time.Hour))
	select {
	case <-s.Notify():
	case <-time.After(10 * time.Second):
		t.Fatal("no fsnotify notification for a new file")
	}
	if got, _ := s.List(ctx); len(got) != 0 {
		t.Fatalf("first look listed %v", names(got))
	}
	// The not-yet-ready file schedules a re-look on Notify by itself.
	drain(s)
	select {
	case <-s.Notify():
	case <-time.After(10 * time.Second):
		t.Fatal("no settle notification for a file waiting to be stable")
	}
	if got, _ := s.List(ctx); !equal(names(got), []string{"a.csv"}) {
		t.Fatalf("second look listed %v", names(got))
	}
}

func drain(s *Source) {
	for {
		select {
		case <-s.Notify():
		default:
			return
		}
	}
}

func TestRescanWithoutWatcherFindsFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := newSrc(t, source.Spec{Path: dir}, WithoutWatch())
	write(t, filepath.Join(dir, "late.csv"), "x\n", time.Now().Add(-time.Hour))
	s.List(ctx)
	got, err := s.List(ctx)
	if err != nil || !equal(names(got), []string{"late.csv"}) {
		t.Fatalf("rescan listed %v %v", names(got), err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(dir)
	if err := s.Ping(ctx); err == nil {
		t.Fatal("Ping ok on a missing folder")
	}
}
