package ledger

import (
	"context"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

var t0 = time.Date(2024, 1, 5, 9, 0, 0, 0, time.UTC)

func id(path, sha string) FileID {
	return FileID{Source: "hq", Path: path, Size: 100, ModTime: t0, SHA256: sha}
}

func open(t *testing.T, dir string) *Ledger {
	t.Helper()
	l, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestDecisions(t *testing.T) {
	ctx := context.Background()
	type step struct {
		f        FileID
		complete string // state to complete with after Decide, "" for none
		want     Decision
		attempts int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"new content is processed", []step{{f: id("/d/a.csv", "h1"), want: Process, attempts: 1}}},
		{"same content under another name is skipped", []step{
			{f: id("/d/a.csv", "h1"), complete: attendance.FileDone, want: Process, attempts: 1},
			{f: id("/d/copy-of-a.csv", "h1"), want: SkipDuplicate, attempts: 1},
		}},
		{"changed content under the same name is read again", []step{
			{f: id("/d/a.csv", "h1"), complete: attendance.FileDone, want: Process, attempts: 1},
			{f: id("/d/a.csv", "h2"), want: Process, attempts: 1},
		}},
		{"failed content is retried", []step{
			{f: id("/d/a.csv", "h1"), complete: attendance.FileFailed, want: Process, attempts: 1},
			{f: id("/d/a.csv", "h1"), want: Process, attempts: 2},
		}},
		{"pending content is resumed", []step{
			{f: id("/d/a.csv", "h1"), want: Process, attempts: 1},
			{f: id("/d/a.csv", "h1"), want: Process, attempts: 2},
		}},
		{"quarantined content is not read again under any name", []step{
			{f: id("/d/bad.csv", "h9"), complete: attendance.FileQuarantined, want: Process, attempts: 1},
			{f: id("/d/bad-again.csv", "h9"), want: SkipQuarantined, attempts: 1},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := open(t, t.TempDir())
			defer l.Close()
			for i, s := range tc.steps {
				d, e, err := l.Decide(ctx, s.f)
				if err != nil {
					t.Fatal(err)
				}
				if d != s.want || e.Attempts != s.attempts {
					t.Fatalf("step %d: got %v attempts %d, want %v attempts %d", i, d, e.Attempts, s.want, s.attempts)
				}
				if s.complete != "" {
					if _, err := l.Complete(ctx, s.f.SHA256, Outcome{State: s.complete, Punches: 3, Reason: "r"}); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}

func TestRestartResumesPending(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := open(t, dir)
	for _, f := range []FileID{id("/d/a.csv", "h1"), id("/d/b.csv", "h2"), id("/d/c.csv", "h3")} {
		if _, _, err := l.Decide(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Complete(ctx, "h2", Outcome{State: attendance.FileDone, Punches: 10, Rejects: 1}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = open(t, dir) // "restart"
	defer l.Close()
	pend, err := l.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range pend {
		got[e.SHA256] = true
	}
	if len(pend) != 2 || !got["h1"] || !got["h3"] {
		t.Fatalf("pending after restart = %+v, want h1 and h3", pend)
	}
	e, ok, err := l.ByHash(ctx, "h2")
	if err != nil || !ok || e.State != attendance.FileDone || e.Punches != 10 || e.Rejects != 1 || e.Finished.IsZero() {
		t.Fatalf("done entry after restart = %+v ok=%v err=%v", e, ok, err)
	}
	if d, _, _ := l.Decide(ctx, id("/d/a.csv", "h1")); d != Process {
		t.Fatalf("pending file after restart: %v, want process", d)
	}
	c, err := l.Counts(ctx)
	if err != nil || c[attendance.FilePending] != 2 || c[attendance.FileDone] != 1 {
		t.Fatalf("counts %v %v", c, err)
	}
}

func TestQuarantineKeepsReason(t *testing.T) {
	ctx := context.Background()
	l := open(t, t.TempDir())
	defer l.Close()
	if _, _, err := l.Decide(ctx, id("/d/bad.csv", "hq")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Complete(ctx, "hq", Outcome{State: attendance.FileQuarantined, Reason: "no layout matched"}); err != nil {
		t.Fatal(err)
	}
	e, ok, err := l.ByHash(ctx, "hq")
	if err != nil || !ok || e.State != attendance.FileQuarantined || e.Reason != "no layout matched" {
		t.Fatalf("got %+v %v %v", e, ok, err)
	}
	if _, err := l.Complete(ctx, "hq", Outcome{State: attendance.FilePending}); err == nil {
		t.Fatal("Complete accepted a non-final state")
	}
	if _, err := l.Complete(ctx, "nope", Outcome{State: attendance.FileDone}); err == nil {
		t.Fatal("Complete accepted an unknown hash")
	}
}

func TestKnownSkipsWithoutHashing(t *testing.T) {
	ctx := context.Background()
	l := open(t, t.TempDir())
	defer l.Close()
	f := id("/d/a.csv", "h1")
	if _, _, err := l.Decide(ctx, f); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := l.Known(ctx, "hq", f.Path, f.Size, f.ModTime); ok {
		t.Fatal("pending file reported as known")
	}
	if _, err := l.Complete(ctx, "h1", Outcome{State: attendance.FileDone}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		size  int64
		mtime time.Time
		path  string
		want  bool
	}{
		{"same size and mtime", f.Size, f.ModTime, f.Path, true},
		{"size changed", f.Size + 1, f.ModTime, f.Path, false},
		{"mtime changed", f.Size, f.ModTime.Add(time.Second), f.Path, false},
		{"other path", f.Size, f.ModTime, "/d/b.csv", false},
	}
	for _, tc := range tests {
		if _, ok, err := l.Known(ctx, "hq", tc.path, tc.size, tc.mtime); err != nil || ok != tc.want {
			t.Errorf("%s: known=%v err=%v, want %v", tc.name, ok, err, tc.want)
		}
	}
}

// Content replaced at its path while pending (a crash cut its attempt, then
// the vendor re-sent a changed file) does not stay pending for ever: it
// becomes failed with a reason; done content replaced at its path stays done.
func TestReplacedPendingContentIsSettled(t *testing.T) {
	ctx := context.Background()
	l := open(t, t.TempDir())
	defer l.Close()
	if d, _, err := l.Decide(ctx, id("/d/a.csv", "old")); err != nil || d != Process {
		t.Fatalf("decide old: %v %v", d, err)
	}
	// crash: "old" stays pending; the file is replaced before the restart
	if d, _, err := l.Decide(ctx, id("/d/a.csv", "new")); err != nil || d != Process {
		t.Fatalf("decide new: %v %v", d, err)
	}
	pend, err := l.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pend) != 1 || pend[0].SHA256 != "new" {
		t.Fatalf("pending %+v: want only the new content", pend)
	}
	old, ok, err := l.ByHash(ctx, "old")
	if err != nil || !ok || old.State != attendance.FileFailed || old.Reason == "" {
		t.Fatalf("replaced content %+v (%v %v): want failed with a reason", old, ok, err)
	}
	if _, err := l.Complete(ctx, "new", Outcome{State: attendance.FileDone}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Decide(ctx, id("/d/a.csv", "newer")); err != nil {
		t.Fatal(err)
	}
	if e, _, _ := l.ByHash(ctx, "new"); e.State != attendance.FileDone {
		t.Fatalf("done content replaced at its path became %q", e.State)
	}
	// The same content pending under another path is not touched.
	if _, _, err := l.Decide(ctx, id("/d/b.csv", "shared")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Decide(ctx, id("/d/c.csv", "shared")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Decide(ctx, id("/d/b.csv", "other")); err != nil {
		t.Fatal(err)
	}
	if e, _, _ := l.ByHash(ctx, "shared"); e.State != attendance.FilePending {
		t.Fatalf("content pending at another path became %q", e.State)
	}
}
