package gcbudget

import (
	"math"
	"runtime/debug"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"", 0, false}, {"off", 0, false}, {"0", 0, false},
		{"1048576", 1 << 20, false}, {"512B", 512, false}, {"64KiB", 64 << 10, false},
		{"256MiB", 256 << 20, false}, {" 2 GiB ", 2 << 30, false}, {"1TiB", 1 << 40, false},
		{"256MB", 0, true}, {"256M", 0, true}, {"-1MiB", 0, true}, {"1.5GiB", 0, true},
		{"MiB", 0, true}, {"lots", 0, true}, {"9223372036854775807TiB", 0, true},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("Parse(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	if err := Validate("16MiB"); err == nil || !strings.Contains(err.Error(), "minimum") {
		t.Errorf("Validate(16MiB) = %v, want the minimum error", err)
	}
	for _, ok := range []string{"off", "32MiB", "384MiB"} {
		if err := Validate(ok); err != nil {
			t.Errorf("Validate(%q) = %v", ok, err)
		}
	}
}

// Apply changes the process's collector settings; each case restores them.
func TestApply(t *testing.T) {
	restore := func() {
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
	}
	defer restore()
	env := func(kv ...string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1], true
				}
			}
			return "", false
		}
	}

	debug.SetGCPercent(70)
	msg, undo := Apply("128MiB", env())
	if pct, limit := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1); pct != -1 || limit != 128<<20 {
		t.Errorf("after Apply(128MiB): GOGC %d, limit %d; want off and 128 MiB (%s)", pct, limit, msg)
	}
	undo()
	if pct, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1); pct != 70 || limit != math.MaxInt64 {
		t.Errorf("after undo: GOGC %d, limit %d; want the previous 70 and no limit", pct, limit)
	}
	restore()

	for _, e := range [][]string{{"GOGC", "200"}, {"GOMEMLIMIT", "1GiB"}} {
		msg, _ := Apply("128MiB", env(e...))
		if pct, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1); pct != 100 || limit != math.MaxInt64 {
			t.Errorf("with %s set: GOGC %d, limit %d; want the settings untouched", e[0], pct, limit)
		}
		if !strings.Contains(msg, e[0]) {
			t.Errorf("with %s set: message %q does not say why", e[0], msg)
		}
	}
	for _, off := range []string{"off", "lots"} { // "lots" does not parse (Validate refuses it first)
		msg, _ := Apply(off, env())
		if pct, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1); pct != 100 || limit != math.MaxInt64 {
			t.Errorf("memory_limit %q: GOGC %d, limit %d; want Go's defaults (%s)", off, pct, limit, msg)
		}
	}
}
