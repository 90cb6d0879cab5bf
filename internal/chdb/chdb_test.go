package chdb

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
)

func TestParseError(t *testing.T) {
	e := ParseError("Code: 60. DB::Exception: Unknown table expression identifier 'nope' in scope SELECT * FROM nope. (UNKNOWN_TABLE)\n")
	if e.Code != 60 || e.Name != "UNKNOWN_TABLE" || !strings.HasPrefix(e.Message, "Code: 60. DB::Exception: Unknown table") {
		t.Fatalf("parsed %+v", e)
	}
	if got := e.Exception(); !strings.HasPrefix(got, "Code: 60. DB::Exception:") {
		t.Fatalf("Exception() = %q", got)
	}
	e = ParseError("something odd")
	if e.Code != 0 || e.Name != "" || e.Exception() != "Code: 0. DB::Exception: something odd" {
		t.Fatalf("parsed %+v", e)
	}
}

// TestSession runs the real engine: one session per process, so every engine
// check lives in this one test.
func TestSession(t *testing.T) {
	ctx := context.Background()
	var before kernelSigaction
	sigaction(int(syscall.SIGSEGV), nil, &before)

	s, err := Open(ctx, t.TempDir(), nil, Setting{"merge_max_block_size", "4096"})
	if err != nil {
		t.Fatalf("%v (run scripts/setup-chdb.sh)", err)
	}
	defer s.Close()

	var after kernelSigaction
	sigaction(int(syscall.SIGSEGV), nil, &after)
	if before != after {
		t.Fatalf("SIGSEGV handler changed by the engine: %+v -> %+v", before, after)
	}

	if _, err := Open(ctx, t.TempDir(), nil); !errors.Is(err, ErrSessionOpen) {
		t.Fatalf("second Open: %v, want ErrSessionOpen", err)
	}

	r, err := s.Query(ctx, []byte("SELECT 1 + 1"), "CSV")
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Data) != "2\n" {
		t.Fatalf("SELECT 1+1 = %q", r.Data)
	}

	// The MergeTree default given to Open is the engine's.
	r, err = s.Query(ctx, []byte("SELECT value, changed FROM system.merge_tree_settings WHERE name = 'merge_max_block_size'"), "CSV")
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Data) != "\"4096\",1\n" {
		t.Fatalf("merge_max_block_size after Open with 4096: %q", r.Data)
	}

	_, err = s.Query(ctx, []byte("SELECT * FROM nope_db.nope"), "CSV")
	var ce *Error
	if !errors.As(err, &ce) || ce.Code != 81 && ce.Code != 60 {
		t.Fatalf("unknown table: %v", err)
	}

	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS t",
		"CREATE TABLE t.x (a UInt32, b String) ENGINE = MergeTree ORDER BY a",
		"INSERT INTO t.x FORMAT TabSeparated 1\tone\n2\ttwo\n",
	} {
		if err := s.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	r, err = s.Query(ctx, []byte("SELECT a, b FROM t.x ORDER BY a"), "TabSeparated")
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Data) != "1\tone\n2\ttwo\n" {
		t.Fatalf("select = %q", r.Data)
	}

	// Database, settings and parameters for one query only.
	r, err = s.QueryWith(ctx, []byte("SELECT currentDatabase(), getSetting('max_threads'), {p:String}"), "TabSeparated", Options{
		Database: "t",
		Settings: []Setting{{"max_threads", "3"}},
		Params:   []Setting{{"p", "it's"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Data) != "t\t3\tit\\'s\n" {
		t.Fatalf("QueryWith = %q", r.Data)
	}
	r, err = s.QueryWith(ctx, []byte("SELECT currentDatabase(), changed FROM system.settings WHERE name = 'max_threads'"), "TabSeparated", Options{Database: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Data) != "default\t0\n" {
		t.Fatalf("after QueryWith = %q", r.Data)
	}
	if _, err := s.QueryWith(ctx, []byte("SELECT 1"), "", Options{Settings: []Setting{{"no_such_setting_x", "1"}}}); !errors.As(err, &ce) || ce.Code != 115 {
		t.Fatalf("unknown setting: %v", err)
	}
	if _, err := s.QueryWith(ctx, []byte("SELECT 1"), "", Options{Settings: []Setting{{"x; DROP", "1"}}}); !errors.As(err, &ce) || ce.Code != 115 {
		t.Fatalf("bad setting name: %v", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Query(cctx, []byte("SELECT 1"), "CSV"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}

	// A Go nil dereference must still be a recoverable panic.
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic on nil dereference")
			}
		}()
		var p *int
		_ = *p
	}()

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Query(ctx, []byte("SELECT 1"), "CSV"); !errors.Is(err, ErrClosed) {
		t.Fatalf("query after close: %v", err)
	}
}

// A MergeTree default whose name could break out of its XML element is
// refused before the engine starts.
func TestOpenRefusesOddSettingName(t *testing.T) {
	_, err := Open(context.Background(), t.TempDir(), nil, Setting{"a><b", "1"})
	if err == nil || !strings.Contains(err.Error(), "not a setting name") {
		t.Fatalf("Open with a setting named a><b: %v", err)
	}
}
