package ftpsrc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/source"
)

var seoul = mustLoc("Asia/Seoul")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

func TestTrackerReadiness(t *testing.T) {
	t0 := time.Date(2024, 1, 5, 9, 0, 0, 0, seoul)
	old := t0.Add(-time.Hour)
	type poll struct {
		at      time.Duration // after t0
		looks   map[string]look
		times   map[string]time.Time
		precise bool
		want    []string
	}
	cases := []struct {
		name     string
		minAge   time.Duration
		fallback time.Duration
		polls    []poll
	}{
		{"old file needs two polls", 30 * time.Second, 0, []poll{
			{0, map[string]look{"/a": {10, old}}, nil, false, nil},
			{time.Second, map[string]look{"/a": {10, old}}, nil, false, []string{"/a"}},
		}},
		{"growing file is never ready", 30 * time.Second, 0, []poll{
			{0, map[string]look{"/a": {10, old}}, nil, false, nil},
			{time.Second, map[string]look{"/a": {20, old}}, nil, false, nil},
			{2 * time.Second, map[string]look{"/a": {30, old}}, nil, false, nil},
			{3 * time.Second, map[string]look{"/a": {30, old}}, nil, false, []string{"/a"}},
		}},
		{"new mtime same size restarts", 30 * time.Second, 0, []poll{
			{0, map[string]look{"/a": {10, old}}, nil, false, nil},
			{time.Second, map[string]look{"/a": {10, old.Add(time.Minute)}}, nil, false, nil},
		}},
		{"stable but young waits for MinAge", 30 * time.Second, 0, []poll{
			{0, map[string]look{"/a": {10, t0.Add(-10 * time.Second)}}, nil, true, nil},
			{5 * time.Second, map[string]look{"/a": {10, t0.Add(-10 * time.Second)}}, nil, true, nil},
			{20 * time.Second, map[string]look{"/a": {10, t0.Add(-10 * time.Second)}}, nil, true, []string{"/a"}},
		}},
		{"minute listing counts the whole minute", 30 * time.Second, 0, []poll{
			// listed 08:59 could be 08:59:59; at 09:00:20 it may be 21 s old
			{20 * time.Second, map[string]look{"/a": {10, t0.Add(-time.Minute)}}, nil, false, nil},
			{25 * time.Second, map[string]look{"/a": {10, t0.Add(-time.Minute)}}, nil, false, nil},
			{30 * time.Second, map[string]look{"/a": {10, t0.Add(-time.Minute)}}, nil, false, []string{"/a"}},
		}},
		{"MDTM refines the minute", 30 * time.Second, 0, []poll{
			{20 * time.Second, map[string]look{"/a": {10, t0.Add(-time.Minute)}}, nil, false, nil},
			{25 * time.Second, map[string]look{"/a": {10, t0.Add(-time.Minute)}}, map[string]time.Time{"/a": t0.Add(-time.Minute + 5*time.Second)}, false, []string{"/a"}},
		}},
		{"future mtime: fallback after long stability", 30 * time.Second, 5 * time.Minute, []poll{
			{0, map[string]look{"/a": {10, t0.Add(9 * time.Hour)}}, nil, true, nil},
			{time.Minute, map[string]look{"/a": {10, t0.Add(9 * time.Hour)}}, nil, true, nil},
			{5 * time.Minute, map[string]look{"/a": {10, t0.Add(9 * time.Hour)}}, nil, true, []string{"/a"}},
		}},
		{"vanished file is forgotten", 30 * time.Second, 0, []poll{
			{0, map[string]look{"/a": {10, old}}, nil, false, nil},
			{time.Second, map[string]look{}, nil, false, nil},
			{2 * time.Second, map[string]look{"/a": {10, old}}, nil, false, nil},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := newTracker(c.minAge, c.fallback)
			for i, p := range c.polls {
				ready, _ := tr.apply(t0.Add(p.at), p.looks, p.times, p.precise)
				var got []string
				for _, r := range ready {
					got = append(got, r.path)
				}
				if strings.Join(got, ",") != strings.Join(p.want, ",") {
					t.Fatalf("poll %d: ready %v, want %v", i, got, p.want)
				}
			}
		})
	}
}

func TestTrackerNeedTime(t *testing.T) {
	old := time.Date(2024, 1, 5, 8, 0, 0, 0, seoul)
	tr := newTracker(time.Second, 0)
	looks := map[string]look{"/a": {1, old}, "/b": {2, old}}
	if got := tr.needTime(looks); len(got) != 0 {
		t.Fatalf("first poll needs no MDTM, got %v", got)
	}
	tr.apply(old.Add(time.Hour), looks, nil, false)
	looks["/b"] = look{3, old}
	if got := tr.needTime(looks); len(got) != 1 || got[0] != "/a" {
		t.Fatalf("needTime = %v, want [/a] (b changed)", got)
	}
	ready, _ := tr.apply(old.Add(time.Hour), looks, map[string]time.Time{"/a": old.Add(7 * time.Second)}, false)
	if len(ready) != 1 || !ready[0].modTime.Equal(old.Add(7*time.Second)) {
		t.Fatalf("ready = %+v, want /a with the MDTM time", ready)
	}
	if got := tr.needTime(looks); len(got) != 1 || got[0] != "/b" {
		t.Fatalf("needTime = %v, want [/b] (a's MDTM is known; b is now a candidate)", got)
	}
}

func TestReconcile(t *testing.T) {
	real := time.Date(2024, 1, 5, 12, 34, 56, 0, seoul)
	listed := time.Date(2024, 1, 5, 12, 34, 0, 0, seoul)
	wall := time.Date(2024, 1, 5, 12, 34, 56, 0, time.UTC) // MDTM in local time, parsed as UTC
	cases := []struct {
		name   string
		mdtm   time.Time
		listed time.Time
		want   time.Time
		ok     bool
	}{
		{"RFC 3659 UTC reply", real.UTC(), listed, real, true},
		{"vsftpd use_localtime reply", wall, listed, real, true},
		{"old file, day-precision listing", wall, time.Date(2024, 1, 5, 0, 0, 0, 0, seoul), real, true},
		{"disagrees with listing", wall.Add(3 * time.Hour), listed, time.Time{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := reconcile(c.mdtm, c.listed, seoul)
			if ok != c.ok || !got.Equal(c.want) {
				t.Fatalf("reconcile = %v %v, want %v %v", got, ok, c.want, c.ok)
			}
		})
	}
}

func TestMatchGlobs(t *testing.T) {
	cases := []struct {
		name             string
		include, exclude []string
		want             bool
	}{
		{"a.csv", nil, nil, true},
		{".a.csv", nil, nil, false},
		{"a.csv.tmp", nil, []string{"*.tmp"}, false},
		{"a.csv", []string{"*.csv", "*.txt"}, []string{"*.tmp"}, true},
		{"a.xls", []string{"*.csv"}, nil, false},
		{"T_SECOM_ALARM_20240105.csv", []string{"T_SECOM_*"}, []string{"*_partial*"}, true},
	}
	for _, c := range cases {
		if got := matchGlobs(c.name, c.include, c.exclude); got != c.want {
			t.Errorf("matchGlobs(%q, %v, %v) = %v, want %v", c.name, c.include, c.exclude, got, c.want)
		}
	}
}

func envWith(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestNewRejectsBadSpecWithoutLeakingSecrets(t *testing.T) {
	const secret = "s3cret-pw"
	env := envWith(map[string]string{"PW": secret})
	cases := []struct {
		name string
		spec source.Spec
		want string
	}{
		{"password in url", source.Spec{URL: "ftp://u:" + secret + "@h/x"}, "password_env"},
		{"unparsable url with password", source.Spec{URL: "ftp://u:" + secret + "@h:badport/x"}, "not a valid URL"},
		{"missing password variable", source.Spec{URL: "ftp://u@h/x", PasswordEnv: "NOPE"}, "NOPE is not set"},
		{"bad scheme", source.Spec{URL: "sftp://u@h/x", PasswordEnv: "PW"}, "scheme"},
		{"bad tls", source.Spec{URL: "ftp://u@h/x", PasswordEnv: "PW", TLS: "implicit"}, "tls"},
		{"ca without tls", source.Spec{URL: "ftp://u@h/x", PasswordEnv: "PW", TLSCAFile: "/x.pem"}, "explicit"},
		{"bad glob", source.Spec{URL: "ftp://u@h/x", PasswordEnv: "PW", Include: []string{"[a"}}, "glob"},
		{"bad after", source.Spec{URL: "ftp://u@h/x", PasswordEnv: "PW", After: "archive"}, "after"},
		{"move onto itself", source.Spec{URL: "ftp://u@h/x", PasswordEnv: "PW", After: "move:/x"}, "drop folder"},
		{"bad tz", source.Spec{URL: "ftp://u@h/x", PasswordEnv: "PW", TZ: "Mars/Olympus"}, "tz"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(context.Background(), c.spec, nil, Options{LookupEnv: env})
			if err == nil {
				t.Fatalf("New accepted %+v", c.spec)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error leaks the password: %q", err)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	s, err := New(context.Background(), source.Spec{Name: "n", URL: "ftp://vendor@ftp.example.com/drop/", PasswordEnv: "PW", After: "move:done"},
		nil, Options{LookupEnv: envWith(map[string]string{"PW": "x"})})
	if err != nil {
		t.Fatal(err)
	}
	if s.addr != "ftp.example.com:21" || s.dir != "/drop" || s.user != "vendor" || s.loc.String() != "Asia/Seoul" ||
		s.timeout != DefaultTimeout || s.minAge != DefaultMinAge || s.after != (after{"move", "/drop/done"}) || s.opts.MaxConns != 2 {
		t.Fatalf("defaults: addr=%s dir=%s user=%s loc=%s timeout=%v minAge=%v after=%+v maxConns=%d",
			s.addr, s.dir, s.user, s.loc, s.timeout, s.minAge, s.after, s.opts.MaxConns)
	}
	if s.Notify() != nil {
		t.Fatal("Notify must be nil for a polling source")
	}
}

type errCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *errCounter) inc(op string) { c.mu.Lock(); c.n[op]++; c.mu.Unlock() }
func (c *errCounter) get(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[op]
}

func newFakeSource(t *testing.T, f *fakeFTP, timeout time.Duration, attempts int, logs io.Writer) (*Source, *errCounter) {
	t.Helper()
	ec := &errCounter{n: map[string]int{}}
	if logs == nil {
		logs = io.Discard
	}
	s, err := New(context.Background(), source.Spec{
		Name: "fake", URL: "ftp://vendor@" + f.addr() + "/drop", PasswordEnv: "PW",
		Timeout: timeout, MinAge: time.Second,
	}, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Options{
		LookupEnv: envWith(map[string]string{"PW": "fake-secret"}),
		Attempts:  attempts, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond,
		OnError: ec.inc,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, ec
}

// A server that accepts and never answers makes each operation fail with the
// per-operation deadline (not the caller's context, which is far away).
func TestDeadlineOnSilentServer(t *testing.T) {
	f := startFake(t, &fakeFTP{silent: true})
	s, ec := newFakeSource(t, f, 200*time.Millisecond, 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ops := []struct {
		name string
		do   func() error
	}{
		{"list", func() error { _, err := s.List(ctx); return err }},
		{"ping", func() error { return s.Ping(ctx) }},
		{"open", func() error { _, err := s.Open(ctx, source.File{Path: "/drop/a.csv", Size: 1}); return err }},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			err := op.do()
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("%s on a silent server: err = %v, want a deadline error", op.name, err)
			}
			if ctx.Err() != nil {
				t.Fatalf("the caller's context ended first: %v", ctx.Err())
			}
		})
	}
	if got := ec.get("dial"); got != 2*len(ops) {
		t.Fatalf("OnError(dial) called %d times, want %d (two attempts per op)", got, 2*len(ops))
	}
}

func TestContextCancelAbortsStalledOperation(t *testing.T) {
	f := startFake(t, &fakeFTP{silent: true})
	s, _ := newFakeSource(t, f, time.Hour, 1, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// cancel once the source is connected and waiting for the greeting
		for {
			if f.accepted() > 0 {
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	_, err := s.List(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("List with a canceled context: err = %v, want context.Canceled", err)
	}
}

// A data connection that stops sending fails the read with the deadline.
func TestDeadlineOnStalledTransfer(t *testing.T) {
	f := startFake(t, &fakeFTP{stall: true, content: "never sent", listing: ""})
	s, ec := newFakeSource(t, f, 200*time.Millisecond, 1, nil)
	ctx := context.Background()
	rc, err := s.Open(ctx, source.File{Path: "/drop/a.csv", Size: 10})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	_, err = io.ReadAll(rc)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read of a stalled transfer: err = %v, want a deadline error", err)
	}
	if err := rc.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if ec.get("read") != 1 {
		t.Fatalf("OnError(read) = %d, want 1", ec.get("read"))
	}
	// the broken session was discarded: a Ping dials a new control connection
	before := len(f.commands())
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping after a failed transfer: %v", err)
	}
	if after := len(f.commands()); after != before+1 {
		t.Fatalf("ping used %d new connections, want 1 (broken one not reused)", after-before)
	}
}

// A server that advertises EPSV but whose EPSV port is unreachable: the source
// falls back to PASV, and remembers it for later connections.
func TestEPSVFallbackToPASV(t *testing.T) {
	listing := "-rw-r--r--    1 ftp      ftp            6 Jan 05  2024 a.csv\r\n"
	f := startFake(t, &fakeFTP{badEPSV: true, listing: listing})
	var logs bytes.Buffer
	s, ec := newFakeSource(t, f, 2*time.Second, 3, &logs)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, err := s.List(ctx); err != nil {
			t.Fatalf("list %d: %v", i, err)
		}
		s.dropIdle() // force a new connection next time
	}
	sess := f.commands()
	if len(sess) != 3 {
		t.Fatalf("want 3 connections (EPSV try, PASV, PASV), got %d: %v", len(sess), sess)
	}
	has := func(cmds []string, verb string) bool {
		for _, c := range cmds {
			if strings.HasPrefix(c, verb) {
				return true
			}
		}
		return false
	}
	if !has(sess[0], "EPSV") || has(sess[0], "LIST") {
		t.Fatalf("first connection: want EPSV and no LIST (its data connection failed): %v", sess[0])
	}
	for i, c := range sess[1:] {
		if has(c, "EPSV") || !has(c, "PASV") || !has(c, "LIST") {
			t.Fatalf("connection %d after fallback: want PASV+LIST without EPSV: %v", i+1, c)
		}
	}
	if ec.get("list") != 1 {
		t.Fatalf("OnError(list) = %d, want 1", ec.get("list"))
	}
	if !strings.Contains(logs.String(), "PASV") || strings.Contains(logs.String(), "fake-secret") {
		t.Fatalf("logs should report the fallback and never the password:\n%s", logs.String())
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := 500*time.Millisecond, 30*time.Second
	full := func(d time.Duration) time.Duration { return d - 1 } // top of the jitter range
	none := func(time.Duration) time.Duration { return 0 }       // bottom
	cases := []struct {
		n        int
		min, max time.Duration
	}{
		{1, 250 * time.Millisecond, 500 * time.Millisecond},
		{2, 500 * time.Millisecond, time.Second},
		{4, 2 * time.Second, 4 * time.Second},
		{7, 15 * time.Second, 30 * time.Second}, // 32 s capped at 30 s
		{100, 15 * time.Second, 30 * time.Second},
	}
	for _, c := range cases {
		if got := backoff(c.n, lo, hi, none); got != c.min {
			t.Errorf("backoff(%d) low jitter = %v, want %v", c.n, got, c.min)
		}
		if got := backoff(c.n, lo, hi, full); got != c.max {
			t.Errorf("backoff(%d) high jitter = %v, want %v", c.n, got, c.max)
		}
	}
}

func TestListMissingFolderIsAnError(t *testing.T) {
	f := startFake(t, &fakeFTP{noDir: true})
	s, ec := newFakeSource(t, f, time.Second, 3, nil)
	if _, err := s.List(context.Background()); err == nil || !strings.Contains(err.Error(), "cwd /drop") {
		t.Fatalf("List of a missing folder: err = %v, want a cwd error", err)
	}
	if n := len(f.commands()); n != 1 || ec.get("list") != 1 {
		t.Fatalf("a 550 is permanent: want 1 attempt, got %d connections, %d errors", n, ec.get("list"))
	}
}

// MLSD times are UTC (RFC 3659); the library parses them in the site zone it
// needs for LIST, so the source reads them back as UTC.
func TestMLSDTimesAreUTC(t *testing.T) {
	f := startFake(t, &fakeFTP{mlsd: "type=dir;modify=20240105003456; done\r\ntype=file;size=6;modify=20240105003456; a.csv\r\n"})
	s, _ := newFakeSource(t, f, 2*time.Second, 1, nil)
	ctx := context.Background()
	if got, err := s.List(ctx); err != nil || len(got) != 0 {
		t.Fatalf("first poll: %v, %v; want nothing yet", got, err)
	}
	got, err := s.List(ctx)
	if err != nil || len(got) != 1 {
		t.Fatalf("second poll: %v, %v; want a.csv", got, err)
	}
	want := time.Date(2024, 1, 5, 9, 34, 56, 0, seoul)
	if got[0].Path != "/drop/a.csv" || got[0].Size != 6 || !got[0].ModTime.Equal(want) {
		t.Fatalf("file %+v, want /drop/a.csv size 6 mtime %v", got[0], want)
	}
}
