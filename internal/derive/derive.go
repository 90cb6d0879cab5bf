// Package derive turns punches into daily attendance records (one per person
// and working day). It is pure: no I/O, no clock, no package state.
//
// # Rules
//
// Applied per employee number (punches without one are ignored):
//
//  1. A person's punches with the same event_id are one punch. Copies are
//     expected to be identical; if they differ, the canonically smallest is
//     kept, so arrival order still does not matter (but Affected cannot know
//     about the copy it displaces).
//  2. Failed authentications make no clock times; they only flag a day
//     (failed_auth).
//  3. Only in and out make clock times; outing, return and unknown are
//     ignored; pass is ignored unless Rules.PassAsArrival (rule 8).
//  4. Taps of the same mode within DedupWindow of each other collapse: a
//     burst of ins (each within the window of the previous one) counts as its
//     first in, a burst of outs as its last out. Clock times are therefore the
//     real first arrival and the real last departure.
//  5. An in belongs to its local calendar date.
//  6. An out belongs to the day of the latest in at most MaxShift before it
//     (0 < out − in ≤ MaxShift); without such an in, to the local date of
//     (out − DayStart). A failed authentication is attributed the same way.
//  7. clock_in is the day's earliest in. clock_out is the latest out of the
//     day that is after clock_in and at most MaxShift after it; an out at or
//     before clock_in is not a clock-out (flag out_before_in), nor is one
//     more than MaxShift after it (flag out_beyond_max_shift). A day without
//     an in has no clock_in and its clock_out is its latest out.
//  8. With PassAsArrival, the earliest pass of a date that is at most
//     PassArrivalLead before that date's first in becomes clock_in (flag
//     pass_as_arrival). A pass never creates a day on its own.
//  9. A day exists only when it has an in or an out (after rules 1–4): a day
//     whose only punches are failed authentications, passes, outings,
//     returns or unknowns produces no record.
//
// The stray morning 퇴근 that once produced a 23-hour day cannot do so here:
// an out more than MaxShift after the previous in goes to the date of
// (out − DayStart); if that day has an in, the out is before its clock_in and
// is flagged, not used; if not, it is a missing_in day of its own. It never
// closes the previous day.
//
// # Flags
//
// Each record's flags are a subset of, in this order:
//
//	missing_in            no clock_in
//	missing_out           no clock_out
//	pass_as_arrival       clock_in is a pass (rule 8)
//	night_shift           clock_out falls on a later local date than the working day
//	long_shift            clock_out − clock_in ≥ 7/8 of MaxShift (14 h with the defaults)
//	out_before_in         an out of this day at or before clock_in was ignored
//	out_beyond_max_shift  an out of this day more than MaxShift after clock_in was ignored
//	failed_auth           a failed authentication was attributed to this day
//
// Flags is never nil.
//
// # Guarantees
//
// Days is deterministic and independent of input order and of duplicate
// deliveries. Every record has clock_in or clock_out; clock_out is after
// clock_in and at most MaxShift after it; records are sorted by employee
// number then working day. A record's site is that of its clock_in punch,
// else of its clock_out punch. Local dates are taken in Rules.Location or,
// when it is nil, in each punch's own offset (one offset per person is
// assumed, as one site's parser produces); clock times are printed in
// Rules.Location when it is set.
//
// Incremental use: for new punches N and a history H ⊇ N, every key whose
// record differs between Days(H \ N) and Days(H) is in Affected(N) (a
// superset), and Days over the punches of H inside Window(N) yields, for
// every key of Affected(N), the same record (or the same absence of one) as
// Days(H). Records of other keys derived from the window may be incomplete
// and must not be used.
package derive

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

// Flags beyond attendance.FlagMissingIn and attendance.FlagMissingOut.
const (
	FlagPassAsArrival     = "pass_as_arrival"
	FlagNightShift        = "night_shift"
	FlagLongShift         = "long_shift"
	FlagOutBeforeIn       = "out_before_in"
	FlagOutBeyondMaxShift = "out_beyond_max_shift"
	FlagFailedAuth        = "failed_auth"
)

// PassArrivalLead is how long before a date's first in a pass may be and
// still count as the arrival (Rules.PassAsArrival). It keeps a pass hours
// earlier (a visit, a night walk past the gate) from stretching the day.
const PassArrivalLead = 2 * time.Hour

const dateLayout = "2006-01-02"

// Rules are the per-site derivation settings.
type Rules struct {
	DayStart      time.Duration  // default 4h: an unattached out belongs to the local date of (t - DayStart)
	MaxShift      time.Duration  // default 16h
	DedupWindow   time.Duration  // default 60s
	PassAsArrival bool           // first pass of the day may count as arrival; default false
	Location      *time.Location // site zone for "local date"; default: the punch's own offset
}

// DefaultRules returns the defaults: day start 04:00, max shift 16 h, dedup
// window 60 s, passes are not arrivals, local dates in each punch's offset.
func DefaultRules() Rules {
	return Rules{DayStart: 4 * time.Hour, MaxShift: 16 * time.Hour, DedupWindow: 60 * time.Second}
}

// Validate reports rules outside the supported ranges: DayStart in [0, 24h),
// MaxShift in (0, 48h], DedupWindow in [0, 1h].
func (r Rules) Validate() error {
	var errs []error
	if r.DayStart < 0 || r.DayStart >= 24*time.Hour {
		errs = append(errs, fmt.Errorf("derive: day start %v: want 0 <= day start < 24h", r.DayStart))
	}
	if r.MaxShift <= 0 || r.MaxShift > 48*time.Hour {
		errs = append(errs, fmt.Errorf("derive: max shift %v: want 0 < max shift <= 48h", r.MaxShift))
	}
	if r.DedupWindow < 0 || r.DedupWindow > time.Hour {
		errs = append(errs, fmt.Errorf("derive: dedup window %v: want 0 <= dedup window <= 1h", r.DedupWindow))
	}
	return errors.Join(errs...)
}

// Key identifies a daily record.
type Key struct {
	EmployeeNo string
	WorkingDay string // YYYY-MM-DD
}

// local returns t in the rules' zone, or unchanged (its own offset).
func (r Rules) local(t time.Time) time.Time {
	if r.Location != nil {
		return t.In(r.Location)
	}
	return t
}

func (r Rules) date(t time.Time) string { return r.local(t).Format(dateLayout) }

// Days derives daily records from one or more people's punches (any order,
// duplicates by EventID allowed), sorted by employee number then working
// day. Deterministic: the output does not depend on input order. The rules
// are expected to pass Validate.
func Days(r Rules, punches []attendance.Punch) []attendance.DailyRecord {
	ps := canonical(punches)
	var out []attendance.DailyRecord
	for start := 0; start < len(ps); {
		end := start + 1
		for end < len(ps) && ps[end].EmployeeNo == ps[start].EmployeeNo {
			end++
		}
		if ps[start].EmployeeNo != "" {
			out = append(out, person(r, ps[start:end])...)
		}
		start = end
	}
	return out
}

// canonical drops event_id duplicates (per person: a punch re-matched to
// another person is that person's punch too) and sorts by employee number, then time,
// then every other field, so that the result does not depend on input order.
func canonical(punches []attendance.Punch) []attendance.Punch {
	ps := slices.Clone(punches)
	slices.SortFunc(ps, comparePunch)
	seen := make(map[string]bool, len(ps))
	kept := ps[:0]
	for _, p := range ps {
		if p.EventID != "" {
			id := p.EmployeeNo + "\x00" + p.EventID
			if seen[id] {
				continue
			}
			seen[id] = true
		}
		kept = append(kept, p)
	}
	// The kept copy of an event id is its smallest by comparePunch, since the
	// slice was sorted before; kept stays sorted.
	return kept
}

func comparePunch(a, b attendance.Punch) int {
	_, ao := a.OccurredAt.Zone()
	_, bo := b.OccurredAt.Zone()
	return cmp.Or(
		cmp.Compare(a.EmployeeNo, b.EmployeeNo),
		a.OccurredAt.Compare(b.OccurredAt),
		cmp.Compare(ao, bo),
		cmp.Compare(a.EventID, b.EventID),
		cmp.Compare(a.Mode, b.Mode),
		compareBool(a.AuthOK, b.AuthOK),
		cmp.Compare(a.Site, b.Site),
		cmp.Compare(a.Device, b.Device),
		cmp.Compare(a.Vendor, b.Vendor),
		cmp.Compare(a.Layout, b.Layout),
		cmp.Compare(a.RawMode, b.RawMode),
		cmp.Compare(a.CardHash, b.CardHash),
		cmp.Compare(a.CardMasked, b.CardMasked),
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.SourceFile, b.SourceFile),
		cmp.Compare(a.SourceLine, b.SourceLine),
	)
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// day accumulates what belongs to one working day of one person.
type day struct {
	ins    []*attendance.Punch // kept ins on this date, ascending
	outs   []*attendance.Punch // kept outs attributed to this day, ascending
	passes []*attendance.Punch // passes on this date, ascending
	failed int                 // failed authentications attributed to this day
}

// person derives the days of one person from canonically sorted punches.
func person(r Rules, ps []attendance.Punch) []attendance.DailyRecord {
	var ins, outs, passes, failed []*attendance.Punch
	for i := range ps {
		p := &ps[i]
		switch {
		case !p.AuthOK:
			failed = append(failed, p)
		case p.Mode == attendance.ModeIn:
			ins = append(ins, p)
		case p.Mode == attendance.ModeOut:
			outs = append(outs, p)
		case p.Mode == attendance.ModePass && r.PassAsArrival:
			passes = append(passes, p)
		}
	}
	ins = collapse(ins, r.DedupWindow, true)
	outs = collapse(outs, r.DedupWindow, false)

	days := map[string]*day{}
	get := func(d string) *day {
		if days[d] == nil {
			days[d] = &day{}
		}
		return days[d]
	}
	for _, p := range ins {
		d := get(r.date(p.OccurredAt))
		d.ins = append(d.ins, p)
	}
	for _, p := range outs {
		d := get(attribute(r, ins, p.OccurredAt))
		d.outs = append(d.outs, p)
	}
	for _, p := range failed {
		if d := days[attribute(r, ins, p.OccurredAt)]; d != nil {
			d.failed++
		}
	}
	for _, p := range passes {
		if d := days[r.date(p.OccurredAt)]; d != nil {
			d.passes = append(d.passes, p)
		}
	}

	keys := make([]string, 0, len(days))
	for k := range days {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	recs := make([]attendance.DailyRecord, 0, len(keys))
	for _, k := range keys {
		recs = append(recs, record(r, ps[0].EmployeeNo, k, days[k]))
	}
	return recs
}

// collapse drops the repeated taps of a burst: with first, a tap at most
// window after the previous one (the burst keeps its first tap); otherwise a
// tap at most window before the next one (the burst keeps its last tap).
// ps is sorted ascending by time.
func collapse(ps []*attendance.Punch, window time.Duration, first bool) []*attendance.Punch {
	kept := make([]*attendance.Punch, 0, len(ps))
	for i, p := range ps {
		if first && i > 0 && p.OccurredAt.Sub(ps[i-1].OccurredAt) <= window {
			continue
		}
		if !first && i+1 < len(ps) && ps[i+1].OccurredAt.Sub(p.OccurredAt) <= window {
			continue
		}
		kept = append(kept, p)
	}
	return kept
}

// attribute returns the working day of an out (or failed authentication) at
// t: the date of the latest in at most MaxShift before t, else the local date
// of t − DayStart. ins is sorted ascending.
func attribute(r Rules, ins []*attendance.Punch, t time.Time) string {
	i := sort.Search(len(ins), func(i int) bool { return !ins[i].OccurredAt.Before(t) })
	if i > 0 {
		if in := ins[i-1].OccurredAt; t.Sub(in) <= r.MaxShift {
			return r.date(in)
		}
	}
	return r.date(t.Add(-r.DayStart))
}

func record(r Rules, emp, workingDay string, d *day) attendance.DailyRecord {
	rec := attendance.DailyRecord{EmployeeNo: emp, WorkingDay: workingDay, Flags: []string{}}
	var in, out *attendance.Punch
	viaPass := false
	if len(d.ins) > 0 {
		in = d.ins[0]
		for _, p := range d.passes {
			if p.OccurredAt.Before(in.OccurredAt) && in.OccurredAt.Sub(p.OccurredAt) <= PassArrivalLead {
				in, viaPass = p, true
				break
			}
		}
	}
	var before, beyond bool
	for _, p := range d.outs {
		switch {
		case in == nil:
			out = p
		case !p.OccurredAt.After(in.OccurredAt):
			before = true
		case p.OccurredAt.Sub(in.OccurredAt) > r.MaxShift:
			beyond = true
		default:
			out = p
		}
	}
	if in != nil {
		t := r.local(in.OccurredAt)
		rec.ClockIn, rec.Site = &t, in.Site
	}
	if out != nil {
		t := r.local(out.OccurredAt)
		rec.ClockOut = &t
		if in == nil {
			rec.Site = out.Site
		}
	}
	add := func(cond bool, flag string) {
		if cond {
			rec.Flags = append(rec.Flags, flag)
		}
	}
	add(in == nil, attendance.FlagMissingIn)
	add(out == nil, attendance.FlagMissingOut)
	add(viaPass, FlagPassAsArrival)
	add(out != nil && r.date(out.OccurredAt) > workingDay, FlagNightShift)
	add(in != nil && out != nil && out.OccurredAt.Sub(in.OccurredAt) >= r.MaxShift-r.MaxShift/8, FlagLongShift)
	add(before, FlagOutBeforeIn)
	add(beyond, FlagOutBeyondMaxShift)
	add(d.failed > 0, FlagFailedAuth)
	return rec
}

// reach is the instant range [lo, hi] such that a punch at t can only change
// days whose local date lies in [date(lo), date(hi)]; ok is false for
// punches that cannot change any day.
func (r Rules) reach(p attendance.Punch) (lo, hi time.Time, ok bool) {
	t := p.OccurredAt
	back := max(r.MaxShift, r.DayStart)
	switch {
	case p.EmployeeNo == "":
		return lo, hi, false
	case !p.AuthOK:
		// Flags the day it is attributed to.
		return t.Add(-back), t, true
	case p.Mode == attendance.ModeIn:
		// Its own date; outs up to MaxShift later that it takes from an
		// earlier in or from their fallback date (at most t+MaxShift−DayStart);
		// ins up to DedupWindow later that it collapses, with their outs.
		return t.Add(-back), t.Add(r.DedupWindow + max(0, r.MaxShift-r.DayStart)), true
	case p.Mode == attendance.ModeOut:
		// The day it is attributed to, and those of the outs it collapses.
		return t.Add(-back - r.DedupWindow), t, true
	case p.Mode == attendance.ModePass && r.PassAsArrival:
		return t, t, true
	}
	return lo, hi, false
}

// Affected returns the (employee_no, working_day) keys the given punches can
// change, sorted: a superset of the keys whose records differ once the
// punches are added to any history.
func Affected(r Rules, punches []attendance.Punch) []Key {
	set := map[Key]bool{}
	for _, p := range punches {
		lo, hi, ok := r.reach(p)
		if !ok {
			continue
		}
		last := r.date(hi)
		for d := r.date(lo); d <= last; d = nextDate(d) {
			set[Key{p.EmployeeNo, d}] = true
		}
	}
	keys := make([]Key, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b Key) int {
		return cmp.Or(cmp.Compare(a.EmployeeNo, b.EmployeeNo), cmp.Compare(a.WorkingDay, b.WorkingDay))
	})
	return keys
}

func nextDate(d string) string {
	t, err := time.Parse(dateLayout, d)
	if err != nil {
		panic("derive: bad date " + d) // dates here come from Format(dateLayout)
	}
	return t.AddDate(0, 0, 1).Format(dateLayout)
}

// Window returns the interval of punches that can influence the days touched
// by the given punches, so a caller can reload them from history. It always
// contains [min(at) - MaxShift - 24h - DayStart, max(at) + MaxShift + 24h],
// widened where the rules need more: the records of Affected(punches)
// derived from the history's punches inside [from, to] equal those derived
// from the whole history. Both ends are inclusive; no punches give zero
// times. Only the records of Affected(punches) derived from the window are
// complete; discard the others.
func Window(r Rules, punches []attendance.Punch) (from, to time.Time) {
	for i, p := range punches {
		t := p.OccurredAt
		f, e := t.Add(-r.MaxShift-24*time.Hour-r.DayStart), t.Add(r.MaxShift+24*time.Hour)
		if lo, hi, ok := r.reach(p); ok {
			// A day D depends on the punches in
			// [D 00:00 + min(0, DayStart−MaxShift) − DedupWindow,
			//  D+1 00:00 + max(MaxShift, DayStart) + DedupWindow].
			f = minTime(f, r.startOfDay(lo, 0).Add(min(0, r.DayStart-r.MaxShift)-r.DedupWindow))
			e = maxTime(e, r.startOfDay(hi, 1).Add(max(r.MaxShift, r.DayStart)+r.DedupWindow))
		}
		if i == 0 {
			from, to = f, e
			continue
		}
		from, to = minTime(from, f), maxTime(to, e)
	}
	return from, to
}

// startOfDay returns local midnight of the date of t plus days.
func (r Rules) startOfDay(t time.Time, days int) time.Time {
	l := r.local(t)
	y, m, d := l.Date()
	return time.Date(y, m, d+days, 0, 0, 0, 0, l.Location())
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
