package match

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

// switchProvider returns its current list or error; safe for concurrent use.
type switchProvider struct {
	name  string
	mu    sync.Mutex
	emps  []attendance.Employee
	err   error
	calls int
}

func (p *switchProvider) Name() string { return p.name }

func (p *switchProvider) Employees(ctx context.Context) ([]attendance.Employee, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.err != nil {
		return nil, p.err
	}
	return append([]attendance.Employee(nil), p.emps...), nil
}

func (p *switchProvider) set(emps []attendance.Employee, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.emps, p.err = emps, err
}

var errDown = errors.New("dial tcp: connection refused")

func TestDirectoryOutage(t *testing.T) {
	ctx := context.Background()
	state := t.TempDir()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	good := []attendance.Employee{{EmployeeNo: "00120001", LoginID: "kim", Name: "김민수"}, {EmployeeNo: "00120002", LoginID: "lee"}}
	p := &switchProvider{name: "daou", emps: good}
	d := NewDirectory(state, []Provider{p}, time.Hour, log)

	got, err := d.Load(ctx)
	if err != nil || !reflect.DeepEqual(got, good) {
		t.Fatalf("live load: %v, %v", got, err)
	}
	if st := d.Status(); st.Source != "live" || st.Stale() || st.Employees != 2 || st.FetchedAt.IsZero() {
		t.Errorf("status after a live load: %+v", st)
	}
	if _, err := os.Stat(filepath.Join(state, CacheFile)); err != nil {
		t.Fatalf("no disk copy: %v", err)
	}

	// The provider goes down: the disk copy is served and reported stale.
	p.set(nil, errDown)
	got, err = d.Load(ctx)
	if err != nil || !reflect.DeepEqual(got, good) {
		t.Fatalf("load during the outage: %v, %v", got, err)
	}
	if st := d.Status(); !st.Stale() || !strings.Contains(st.LastError, "connection refused") || st.Employees != 2 {
		t.Errorf("status during the outage: %+v", st)
	}
	if !strings.Contains(logs.String(), "serving the cached copy") {
		t.Errorf("outage not logged: %s", logs.String())
	}

	// An empty answer is not a good copy either.
	p.set(nil, nil)
	if got, err = d.Load(ctx); err != nil || !reflect.DeepEqual(got, good) || !d.Status().Stale() {
		t.Fatalf("empty answer: %v, %v, %+v", got, err, d.Status())
	}

	// After a restart, still down: the disk copy again.
	p.set(nil, errDown)
	d2 := NewDirectory(state, []Provider{p}, time.Hour, nil)
	got, err = d2.Load(ctx)
	if err != nil || !reflect.DeepEqual(got, good) || !d2.Status().Stale() {
		t.Fatalf("after a restart: %v, %v, %+v", got, err, d2.Status())
	}

	// No temp files are left behind.
	entries, _ := os.ReadDir(state)
	if len(entries) != 1 {
		t.Errorf("state dir holds %d entries, want only %s", len(entries), CacheFile)
	}
}

func TestDirectoryNoCacheAndOutage(t *testing.T) {
	state := t.TempDir()
	p := &switchProvider{name: "daou v3", err: errDown}
	_, err := NewDirectory(state, []Provider{p}, time.Hour, nil).Load(context.Background())
	if err == nil || !strings.Contains(err.Error(), "daou v3: dial tcp: connection refused") || !strings.Contains(err.Error(), "no cached copy") || !errors.Is(err, errDown) {
		t.Fatalf("err = %v", err)
	}
	// A corrupt disk copy is no copy.
	os.WriteFile(filepath.Join(state, CacheFile), []byte("{not json"), 0o600)
	if _, err := NewDirectory(state, []Provider{p}, time.Hour, nil).Load(context.Background()); err == nil || !strings.Contains(err.Error(), CacheFile) {
		t.Fatalf("corrupt copy: err = %v", err)
	}
	if _, err := NewDirectory(state, nil, time.Hour, nil).Load(context.Background()); err == nil || !strings.Contains(err.Error(), "no directory providers") {
		t.Fatalf("no providers: err = %v", err)
	}
}

func TestDirectoryOneProviderDownServesTheWholeCopy(t *testing.T) {
	ctx := context.Background()
	daou := &switchProvider{name: "daou", emps: []attendance.Employee{{EmployeeNo: "1", LoginID: "a", Status: "ONLINE"}}}
	roster := &switchProvider{name: "roster", emps: []attendance.Employee{{EmployeeNo: "1", CardHashes: []string{"h1"}}}}
	d := NewDirectory(t.TempDir(), []Provider{daou, roster}, time.Hour, nil)
	want := []attendance.Employee{{EmployeeNo: "1", LoginID: "a", Status: "ONLINE", CardHashes: []string{"h1"}}}
	if got, err := d.Load(ctx); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("merged: %+v, %v", got, err)
	}
	// Without the roster the cards would be lost: the whole copy is kept instead.
	roster.set(nil, errDown)
	if got, err := d.Load(ctx); err != nil || !reflect.DeepEqual(got, want) || !d.Status().Stale() {
		t.Fatalf("roster down: %+v, %v", got, err)
	}
}

func TestMerge(t *testing.T) {
	tests := []struct {
		name  string
		lists [][]attendance.Employee
		want  []attendance.Employee
	}{
		{
			name: "first provider wins, lists merge",
			lists: [][]attendance.Employee{
				{{EmployeeNo: "2", LoginID: "b", Name: "B", Aliases: []string{"x"}}, {EmployeeNo: "1", LoginID: "a"}},
				{{EmployeeNo: "1", Name: "A from roster", CardHashes: []string{"h2", "h1"}}, {EmployeeNo: "2", LoginID: "b", Name: "other", Aliases: []string{"y", "x"}}},
			},
			want: []attendance.Employee{
				{EmployeeNo: "1", LoginID: "a", Name: "A from roster", CardHashes: []string{"h1", "h2"}},
				{EmployeeNo: "2", LoginID: "b", Name: "B", Aliases: []string{"x", "y"}},
			},
		},
		{
			name: "conflicting login ids stay two accounts",
			lists: [][]attendance.Employee{
				{{EmployeeNo: "1", LoginID: "a"}},
				{{EmployeeNo: "1", LoginID: "z"}},
			},
			want: []attendance.Employee{{EmployeeNo: "1", LoginID: "a"}, {EmployeeNo: "1", LoginID: "z"}},
		},
		{
			name:  "duplicates within one list are kept, blank numbers dropped",
			lists: [][]attendance.Employee{{{EmployeeNo: "1", LoginID: "b"}, {EmployeeNo: " 1 ", LoginID: "a"}, {LoginID: "dept"}}},
			want:  []attendance.Employee{{EmployeeNo: "1", LoginID: "a"}, {EmployeeNo: "1", LoginID: "b"}},
		},
		{
			name:  "roster-only people are added",
			lists: [][]attendance.Employee{{{EmployeeNo: "1", LoginID: "a"}}, {{EmployeeNo: "3", LoginID: "c"}}},
			want:  []attendance.Employee{{EmployeeNo: "1", LoginID: "a"}, {EmployeeNo: "3", LoginID: "c"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Merge(tt.lists...); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDirectoryRun(t *testing.T) {
	p := &switchProvider{name: "p", emps: []attendance.Employee{{EmployeeNo: "1", LoginID: "a"}}}
	d := NewDirectory(t.TempDir(), []Provider{p}, 5*time.Millisecond, nil)
	changes := make(chan []attendance.Employee, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, func(e []attendance.Employee) { changes <- e }) }()

	wait := func(what string) []attendance.Employee {
		t.Helper()
		select {
		case e := <-changes:
			return e
		case <-time.After(5 * time.Second):
			t.Fatalf("no change for %s", what)
			return nil
		}
	}
	if e := wait("the first load"); len(e) != 1 || e[0].LoginID != "a" {
		t.Fatalf("first: %+v", e)
	}
	// Unchanged refreshes and an outage call nothing.
	p.set(nil, errDown)
	time.Sleep(40 * time.Millisecond)
	p.set([]attendance.Employee{{EmployeeNo: "1", LoginID: "a"}}, nil)
	time.Sleep(40 * time.Millisecond)
	select {
	case e := <-changes:
		t.Fatalf("onChange without a change: %+v", e)
	default:
	}
	p.set([]attendance.Employee{{EmployeeNo: "1", LoginID: "a"}, {EmployeeNo: "2", LoginID: "b"}}, nil)
	if e := wait("a new employee"); len(e) != 2 {
		t.Fatalf("changed: %+v", e)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v after cancel, want nil", err)
	}
}

func TestDirectoryRunWithNothingToServe(t *testing.T) {
	p := &switchProvider{name: "p", err: errDown}
	err := NewDirectory(t.TempDir(), []Provider{p}, time.Millisecond, nil).Run(context.Background(), func([]attendance.Employee) {
		t.Error("onChange called with nothing loaded")
	})
	if err == nil || !errors.Is(err, errDown) {
		t.Errorf("Run = %v", err)
	}
}
