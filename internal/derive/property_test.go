package derive

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

const propIterations = 3000

// world is one random case: rules and the punches of a few people.
type world struct {
	rules   Rules
	punches []attendance.Punch
}

func (w world) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rules: day start %v, max shift %v, dedup %v, pass %v, loc %v\n",
		w.rules.DayStart, w.rules.MaxShift, w.rules.DedupWindow, w.rules.PassAsArrival, w.rules.Location)
	ps := slices.Clone(w.punches)
	slices.SortFunc(ps, comparePunch)
	for _, p := range ps {
		fmt.Fprintf(&b, "  %s %s %-7s auth=%v id=%s\n", p.EmployeeNo, p.OccurredAt.Format(time.RFC3339), p.Mode, p.AuthOK, p.EventID)
	}
	return b.String()
}

func genWorld(t testing.TB, rng *rand.Rand) world {
	seoul, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		t.Fatal(err)
	}
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	r := Rules{
		DayStart:      []time.Duration{0, 4 * time.Hour, 6 * time.Hour, 20 * time.Hour}[rng.IntN(4)],
		MaxShift:      []time.Duration{8 * time.Hour, 16 * time.Hour, 16 * time.Hour, 24 * time.Hour, 36 * time.Hour}[rng.IntN(5)],
		DedupWindow:   []time.Duration{0, time.Minute, time.Minute, 30 * time.Minute}[rng.IntN(4)],
		PassAsArrival: rng.IntN(2) == 0,
	}
	// Punch zone and rules zone: +09:00 with or without Asia/Seoul, or New
	// York across the 2024-03-10 DST change.
	zone := time.FixedZone("", 9*3600)
	switch rng.IntN(4) {
	case 1:
		r.Location = seoul
	case 2:
		zone = newYork
	case 3:
		zone, r.Location = newYork, newYork
	}
	start := time.Date(2024, 3, 8, 0, 0, 0, 0, zone)
	span := time.Duration(1+rng.IntN(5)) * 24 * time.Hour
	modes := []attendance.Mode{"in", "in", "in", "out", "out", "out", "pass", "pass", "outing", "return", "unknown"}
	var ps []attendance.Punch
	for e := range 1 + rng.IntN(3) {
		emp := fmt.Sprintf("E%d", e+1)
		for range rng.IntN(30) {
			var p attendance.Punch
			switch k := rng.IntN(10); {
			case k == 0 && len(ps) > 0: // re-delivery of an earlier punch
				p = ps[rng.IntN(len(ps))]
				ps = append(ps, p)
				continue
			case k <= 2 && len(ps) > 0: // a tap shortly after an earlier one
				prev := ps[rng.IntN(len(ps))]
				p = prev
				p.EmployeeNo = emp
				p.OccurredAt = prev.OccurredAt.Add(time.Duration(rng.IntN(int(2*time.Minute/time.Second))) * time.Second)
				if rng.IntN(3) == 0 {
					p.Mode = modes[rng.IntN(len(modes))]
				}
			default:
				p = attendance.Punch{
					EmployeeNo: emp,
					OccurredAt: start.Add(time.Duration(rng.Int64N(int64(span/time.Second))) * time.Second),
					Mode:       modes[rng.IntN(len(modes))],
				}
			}
			p.Site, p.Vendor, p.Device = "s1", "caps", fmt.Sprintf("d%d", rng.IntN(2))
			p.AuthOK = rng.IntN(10) != 0
			p.EventID = attendance.EventID(p.Site, p.Vendor, p.OccurredAt, p.EmployeeNo, "", p.Mode, "", p.Device, p.AuthOK)
			ps = append(ps, p)
		}
	}
	return world{rules: r, punches: ps}
}

func forWorlds(t *testing.T, seed uint64, f func(t *testing.T, w world) string) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	failures := 0
	for i := range propIterations {
		w := genWorld(t, rng)
		if msg := f(t, w); msg != "" {
			t.Errorf("iteration %d: %s\n%s", i, msg, w)
			if failures++; failures >= 3 {
				t.FailNow()
			}
		}
	}
}

func TestPropertyInvariants(t *testing.T) {
	forWorlds(t, 1, func(t *testing.T, w world) string {
		r := w.rules
		recs := Days(r, w.punches)
		for i, rec := range recs {
			if i > 0 {
				prev := recs[i-1]
				if prev.EmployeeNo > rec.EmployeeNo || prev.EmployeeNo == rec.EmployeeNo && prev.WorkingDay >= rec.WorkingDay {
					return "not sorted or duplicate key: " + render(prev) + " / " + render(rec)
				}
			}
			if rec.ClockIn == nil && rec.ClockOut == nil {
				return "record without clock times: " + render(rec)
			}
			if rec.Flags == nil {
				return "nil flags: " + render(rec)
			}
			if (rec.ClockIn == nil) != slices.Contains(rec.Flags, attendance.FlagMissingIn) ||
				(rec.ClockOut == nil) != slices.Contains(rec.Flags, attendance.FlagMissingOut) {
				return "missing flags disagree with clock times: " + render(rec)
			}
			if rec.ClockIn != nil && rec.ClockOut != nil {
				if !rec.ClockOut.After(*rec.ClockIn) {
					return "clock_out not after clock_in: " + render(rec)
				}
				if rec.ClockOut.Sub(*rec.ClockIn) > r.MaxShift {
					return "day longer than max shift: " + render(rec)
				}
			}
			if rec.ClockIn != nil && r.date(*rec.ClockIn) != rec.WorkingDay {
				return "clock_in not on the working day: " + render(rec)
			}
			if rec.ClockOut != nil && r.date(*rec.ClockOut) < rec.WorkingDay {
				return "clock_out before the working day: " + render(rec)
			}
			// Clock times are real punches of the right kind.
			if rec.ClockIn != nil && !hasPunch(w.punches, rec.EmployeeNo, *rec.ClockIn, pick(slices.Contains(rec.Flags, FlagPassAsArrival), attendance.ModePass, attendance.ModeIn)) {
				return "clock_in is no in punch: " + render(rec)
			}
			if rec.ClockOut != nil && !hasPunch(w.punches, rec.EmployeeNo, *rec.ClockOut, attendance.ModeOut) {
				return "clock_out is no out punch: " + render(rec)
			}
			var order []int
			for _, f := range rec.Flags {
				order = append(order, slices.Index(flagOrder, f))
			}
			if slices.Contains(order, -1) || !slices.IsSorted(order) || len(slices.Compact(slices.Clone(order))) != len(order) {
				return "flags unknown, repeated or out of order: " + render(rec)
			}
		}
		return ""
	})
}

var flagOrder = []string{attendance.FlagMissingIn, attendance.FlagMissingOut, FlagPassAsArrival, FlagNightShift,
	FlagLongShift, FlagOutBeforeIn, FlagOutBeyondMaxShift, FlagFailedAuth}

func pick[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}

func hasPunch(ps []attendance.Punch, emp string, at time.Time, mode attendance.Mode) bool {
	for _, p := range ps {
		if p.EmployeeNo == emp && p.AuthOK && p.Mode == mode && p.OccurredAt.Equal(at) {
			return true
		}
	}
	return false
}

func TestPropertyOrderIndependent(t *testing.T) {
	shuffler := rand.New(rand.NewPCG(2, 2))
	forWorlds(t, 2, func(t *testing.T, w world) string {
		want := strings.Join(renderSites(Days(w.rules, w.punches)), "\n")
		ps := slices.Clone(w.punches)
		for range 3 {
			shuffler.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
			// Re-deliveries must not matter either.
			if len(ps) > 0 {
				ps = append(ps, ps[shuffler.IntN(len(ps))])
			}
			if got := strings.Join(renderSites(Days(w.rules, ps)), "\n"); got != want {
				return fmt.Sprintf("shuffled input changed the output:\n%s\nvs\n%s", got, want)
			}
		}
		return ""
	})
}

func renderSites(recs []attendance.DailyRecord) []string {
	out := renderAll(recs)
	for i, r := range recs {
		out[i] += " " + r.Site
	}
	return out
}

// Every successful in and out either is a clock time or is accounted for.
func TestPropertyEveryPunchExplained(t *testing.T) {
	forWorlds(t, 3, func(t *testing.T, w world) string {
		r := w.rules
		recs := Days(r, w.punches)
		byKey := map[Key]attendance.DailyRecord{}
		for _, rec := range recs {
			byKey[Key{rec.EmployeeNo, rec.WorkingDay}] = rec
		}
		for _, p := range w.punches {
			if !p.AuthOK {
				continue
			}
			t := p.OccurredAt
			switch p.Mode {
			case attendance.ModeIn:
				// The in is its date's clock_in or later than it, or it was
				// collapsed into a burst that started on an earlier date.
				explained := false
				for _, d := range burstDates(r, w.punches, p) {
					rec, ok := byKey[Key{p.EmployeeNo, d}]
					explained = explained || ok && rec.ClockIn != nil && !rec.ClockIn.After(t)
				}
				if !explained {
					return fmt.Sprintf("in %s %v unexplained", p.EmployeeNo, t)
				}
			case attendance.ModeOut:
				explained := false
				last := r.date(t)
				for d := r.date(t.Add(-max(r.MaxShift, r.DayStart) - r.DedupWindow)); d <= last && !explained; d = nextDate(d) {
					rec, ok := byKey[Key{p.EmployeeNo, d}]
					explained = ok && (rec.ClockOut != nil && !rec.ClockOut.Before(t) ||
						slices.Contains(rec.Flags, FlagOutBeforeIn) || slices.Contains(rec.Flags, FlagOutBeyondMaxShift))
				}
				if !explained {
					return fmt.Sprintf("out %s %v unexplained", p.EmployeeNo, t)
				}
			}
		}
		return ""
	})
}

// Adding punches N to a history changes only keys in Affected(N), and the
// punches inside Window(N) suffice to recompute those keys.
func TestPropertyIncremental(t *testing.T) {
	picker := rand.New(rand.NewPCG(4, 4))
	forWorlds(t, 4, func(t *testing.T, w world) string {
		r := w.rules
		if len(w.punches) == 0 {
			return ""
		}
		var news, old []attendance.Punch
		k := 1 + picker.IntN(3)
		for i, p := range w.punches {
			if picker.IntN(len(w.punches)) < k || i == len(w.punches)-1 && len(news) == 0 {
				news = append(news, p)
			} else {
				old = append(old, p)
			}
		}
		before, after := index(Days(r, old)), index(Days(r, w.punches))
		affected := map[Key]bool{}
		for _, k := range Affected(r, news) {
			affected[k] = true
		}
		for k := range union(before, after) {
			if before[k] != after[k] && !affected[k] {
				return fmt.Sprintf("key %v changed (%q -> %q) but is not in Affected(%v)", k, before[k], after[k], brief(news))
			}
		}
		from, to := Window(r, news)
		var inside []attendance.Punch
		for _, p := range w.punches {
			if !p.OccurredAt.Before(from) && !p.OccurredAt.After(to) {
				inside = append(inside, p)
			}
		}
		windowed := index(Days(r, inside))
		for k := range affected {
			if windowed[k] != after[k] {
				return fmt.Sprintf("key %v from the window [%v, %v] is %q, from the whole history %q (new %v)", k, from, to, windowed[k], after[k], brief(news))
			}
		}
		return ""
	})
}

// burstDates returns the dates of the successful ins of p's person that are
// chained to p by gaps of at most the dedup window, p's own date first.
func burstDates(r Rules, ps []attendance.Punch, p attendance.Punch) []string {
	dates := []string{r.date(p.OccurredAt)}
	cur := p.OccurredAt
	for {
		var prev *time.Time
		for _, q := range ps {
			if q.EmployeeNo == p.EmployeeNo && q.AuthOK && q.Mode == attendance.ModeIn &&
				q.OccurredAt.Before(cur) && cur.Sub(q.OccurredAt) <= r.DedupWindow {
				if prev == nil || q.OccurredAt.Before(*prev) {
					at := q.OccurredAt
					prev = &at
				}
			}
		}
		if prev == nil {
			return dates
		}
		cur = *prev
		dates = append(dates, r.date(cur))
	}
}

func index(recs []attendance.DailyRecord) map[Key]string {
	m := map[Key]string{}
	for _, rec := range recs {
		m[Key{rec.EmployeeNo, rec.WorkingDay}] = render(rec) + " " + rec.Site
	}
	return m
}

func union(a, b map[Key]string) map[Key]bool {
	m := map[Key]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}

func brief(ps []attendance.Punch) string {
	var s []string
	for _, p := range ps {
		s = append(s, fmt.Sprintf("%s %s %s auth=%v", p.EmployeeNo, p.OccurredAt.Format(time.RFC3339), p.Mode, p.AuthOK))
	}
	return strings.Join(s, "; ")
}
