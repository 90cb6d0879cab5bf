// Package gcbudget runs a command's garbage collector against a memory
// budget instead of heap growth.
//
// Go's default collects whenever the heap has doubled since the last
// collection (GOGC=100). The ingest keeps a live heap of a few MB while it
// allocates about 2.7 KB per punch (record encoding, message buffers), so in
// a 2 M-punch backfill it collected 1,100 times, and the collections and
// the thread wake-ups they cause were a third of its CPU. With the budget
// as the only trigger (GOGC off, the budget as GOMEMLIMIT) it collects when
// the heap reaches the budget: about 40 times for the same work. The
// pusher's live heap (two history batches) is larger but the same holds.
//
// Guarantee: the environment wins. When GOGC or GOMEMLIMIT is set, Apply
// changes nothing and says so. Above the budget the runtime keeps collecting,
// but gives the collector at most about half of the CPU instead of failing:
// a budget set too small for the live heap shows as CPU, not as a crash.
package gcbudget

import (
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
)

// Parse reads a size as GOMEMLIMIT writes it: a number of bytes with an
// optional unit B, KiB, MiB, GiB or TiB ("256MiB"). "off" and "" are 0, which
// means Go's defaults.
func Parse(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "off" {
		return 0, nil
	}
	num, mult := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a size like 256MiB (units B, KiB, MiB, GiB, TiB) or off", s)
	}
	return n * mult, nil
}

// Min is the smallest budget Validate accepts: below it a command's own
// buffers alone keep the collector running.
const Min = 32 << 20

// Validate parses s and checks it is off or at least Min.
func Validate(s string) error {
	n, err := Parse(s)
	if err != nil {
		return err
	}
	if n != 0 && n < Min {
		return fmt.Errorf("%q is below the minimum of 32MiB", s)
	}
	return nil
}

// Apply makes limit (a size Parse reads) the collector's only trigger,
// unless the environment (lookup) sets GOGC or GOMEMLIMIT or limit is off.
// It returns what it did, for the start-up log, and a function that puts the
// previous settings back (commands run in-process by tests call it on
// return).
func Apply(limit string, lookup func(string) (string, bool)) (string, func()) {
	for _, k := range []string{"GOGC", "GOMEMLIMIT"} {
		if v, ok := lookup(k); ok && v != "" {
			return fmt.Sprintf("garbage collector from the environment (%s=%s); memory_limit not applied", k, v), func() {}
		}
	}
	budget, err := Parse(limit)
	if err != nil {
		return fmt.Sprintf("garbage collector at Go's defaults (memory_limit: %v)", err), func() {}
	}
	if budget == 0 {
		return "garbage collector at Go's defaults (memory_limit off)", func() {}
	}
	prevLimit := debug.SetMemoryLimit(budget)
	prevPct := debug.SetGCPercent(-1)
	return fmt.Sprintf("garbage collector runs when the heap reaches memory_limit (%d MiB)", budget>>20), func() {
		debug.SetGCPercent(prevPct)
		debug.SetMemoryLimit(prevLimit)
	}
}
