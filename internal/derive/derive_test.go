package derive

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

var kst = time.FixedZone("", 9*3600)

// pb builds a punch: "E1 2024-01-05 08:50:00 in" with optional "fail" and
// "id=X" words; times are +09:00 unless the time word ends in Z.
func pb(t testing.TB, spec string) attendance.Punch {
	t.Helper()
	f := strings.Fields(spec)
	if len(f) < 4 {
		t.Fatalf("bad punch spec %q", spec)
	}
	zone := kst
	clock := f[2]
	if strings.HasSuffix(clock, "Z") {
		zone, clock = time.UTC, strings.TrimSuffix(clock, "Z")
	}
	at, err := time.ParseInLocation("2006-01-02 15:04:05", f[1]+" "+clock, zone)
	if err != nil {
		t.Fatalf("bad punch spec %q: %v", spec, err)
	}
	p := attendance.Punch{Site: "hq", Vendor: "caps", EmployeeNo: f[0], OccurredAt: at, Mode: attendance.Mode(f[3]), AuthOK: true, Device: "d1"}
	for _, w := range f[4:] {
		switch {
		case w == "fail":
			p.AuthOK = false
		case strings.HasPrefix(w, "id="):
			p.EventID = strings.TrimPrefix(w, "id=")
		case strings.HasPrefix(w, "site="):
			p.Site = strings.TrimPrefix(w, "site=")
		default:
			t.Fatalf("bad punch spec word %q", w)
		}
	}
	if p.EventID == "" {
		p.EventID = attendance.EventID(p.Site, p.Vendor, p.OccurredAt, p.EmployeeNo, "", p.Mode, "", p.Device, p.AuthOK)
	}
	return p
}

func punches(t testing.TB, specs ...string) []attendance.Punch {
	ps := make([]attendance.Punch, len(specs))
	for i, s := range specs {
		ps[i] = pb(t, s)
	}
	return ps
}

// render writes a record as "E1 2024-01-05 01-05T08:50:00+09:00 01-05T18:10:00+09:00 flag,flag".
func render(rec attendance.DailyRecord) string {
	tm := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Format("01-02T15:04:05Z07:00")
	}
	flags := strings.Join(rec.Flags, ",")
	if rec.Flags == nil {
		flags = "NIL"
	} else if flags == "" {
		flags = "-"
	}
	return fmt.Sprintf("%s %s %s %s %s", rec.EmployeeNo, rec.WorkingDay, tm(rec.ClockIn), tm(rec.ClockOut), flags)
}

func renderAll(recs []attendance.DailyRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = render(r)
	}
	return out
}

func TestDaysRules(t *testing.T) {
	seoul, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		t.Fatal(err)
	}
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultRules()
	with := func(f func(*Rules)) Rules { r := DefaultRules(); f(&r); return r }
	tests := []struct {
		name  string
		rules Rules
		in    []string
		want  []string
	}{
		{"ordinary day", def, []string{
			"E1 2024-01-05 08:50:00 in", "E1 2024-01-05 18:10:00 out",
		}, []string{"E1 2024-01-05 01-05T08:50:00+09:00 01-05T18:10:00+09:00 -"}},
		{"night shift crossing midnight", def, []string{
			"E1 2024-01-05 22:00:00 in", "E1 2024-01-06 06:30:00 out",
		}, []string{"E1 2024-01-05 01-05T22:00:00+09:00 01-06T06:30:00+09:00 night_shift"}},
		{"out at 02:00 with no in goes to the previous day", def, []string{
			"E1 2024-01-06 02:00:00 out",
		}, []string{"E1 2024-01-05 - 01-06T02:00:00+09:00 missing_in,night_shift"}},
		{"out at 04:00 with no in is its own day", def, []string{
			"E1 2024-01-06 04:00:00 out",
		}, []string{"E1 2024-01-06 - 01-06T04:00:00+09:00 missing_in"}},
		{"in without out", def, []string{
			"E1 2024-01-05 08:00:00 in",
		}, []string{"E1 2024-01-05 01-05T08:00:00+09:00 - missing_out"}},
		{"two ins: the earliest is clock_in", def, []string{
			"E1 2024-01-05 13:00:00 in", "E1 2024-01-05 08:00:00 in", "E1 2024-01-05 18:00:00 out",
		}, []string{"E1 2024-01-05 01-05T08:00:00+09:00 01-05T18:00:00+09:00 -"}},
		{"two outs: the latest is clock_out", def, []string{
			"E1 2024-01-05 08:00:00 in", "E1 2024-01-05 12:00:00 out", "E1 2024-01-05 18:00:00 out",
		}, []string{"E1 2024-01-05 01-05T08:00:00+09:00 01-05T18:00:00+09:00 -"}},
		{"out before in is not a clock-out", def, []string{
			"E1 2024-01-05 07:50:00 out", "E1 2024-01-05 08:00:00 in", "E1 2024-01-05 17:00:00 out",
		}, []string{"E1 2024-01-05 01-05T08:00:00+09:00 01-05T17:00:00+09:00 out_before_in"}},
		{"only an out before the in", def, []string{
			"E1 2024-01-05 07:50:00 out", "E1 2024-01-05 08:00:00 in",
		}, []string{"E1 2024-01-05 01-05T08:00:00+09:00 - missing_out,out_before_in"}},
		{"out at the same instant as the in", def, []string{
			"E1 2024-01-05 08:00:00 in", "E1 2024-01-05 08:00:00 out",
		}, []string{"E1 2024-01-05 01-05T08:00:00+09:00 - missing_out,out_before_in"}},
		{"stray morning out after a forgotten out: no 23-hour day", def, []string{
			"E1 2024-01-05 08:30:00 in",
			"E1 2024-01-06 07:50:00 out", "E1 2024-01-06 08:05:00 in", "E1 2024-01-06 18:00:00 out",
		}, []string{
			"E1 2024-01-05 01-05T08:30:00+09:00 - missing_out",
			"E1 2024-01-06 01-06T08:05:00+09:00 01-06T18:00:00+09:00 out_before_in",
		}},
		{"stray morning out alone: its own day, not a 23-hour one", def, []string{
			"E1 2024-01-05 08:30:00 in", "E1 2024-01-06 07:30:00 out",
		}, []string{
			"E1 2024-01-05 01-05T08:30:00+09:00 - missing_out",
			"E1 2024-01-06 - 01-06T07:30:00+09:00 missing_in",
		}},
		{"out attached through a later in but beyond max shift of clock_in", def, []string{
			"E1 2024-01-05 08:00:00 in", "E1 2024-01-05 20:00:00 in", "E1 2024-01-06 06:00:00 out",
		}, []string{"E1 2024-01-05 01-05T08:00:00+09:00 - missing_out,out_beyond_max_shift"}},
		{"out more than max shift after the in, before day start", def, []string{
			"E1 2024-01-05 08:00:00 in", "E1 2024-01-06 00:30:00 out",
		}, []string{"E1 2024-01-05 01-05T08:00:00+09:00 - missing_out,out_beyond_max_shift"}},
		{"out exactly max shift after clock_in counts", def, []string{
			"E1 2024-01-05 08:00:00 in", "E1 2024-01-06 00:00:00 out",
		}, []string{"E1 2024-01-05 01-05T08:00:00+09:00 01-06T00:00:00+09:00 night_shift,long_shift"}},
		{"long shift", def, []string{
			"E1 2024-01-05 08:00:00 in", "E1 2024-01-05 22:30:00 out",
		}, []string{"E1 2024-01-05 01-05T08:00:00+09:00 01-05T22:30:00+09:00 long_shift"}},
		{"just under long shift", def, []string{
			"E1 2024-01-05 08:00:00 in", "E1 2024-01-05 21:59:59 out",
		}, []string{"E1 2024-01-05 01-05T08:00:00+09:00 01-05T21:59:59+09:00 -"}},
		{"passes only: no record", def, []string{
			"E1 2024-01-05 08:00:00 pass", "E1 2024-01-05 12:00:00 pass", "E1 2024-01-05 18:00:00 pass",
		}, nil},
		{"passes only with pass-as-arrival: no record", with(func(r *Rules) { r.PassAsArrival = true }), []string{
			"E1 2024-01-05 08:00:00 pass", "E1 2024-01-05 18:00:00 pass",
		}, nil},
		{"failed authentications only: no record", def, []string{
			"E1 2024-01-05 08:00:00 in fail", "E1 2024-01-05 18:00:00 out fail",
		}, nil},
		{"outings, returns and unknowns only: no record", def, []string{
			"E1 2024-01-05 11:00:00 outing", "E1 2024-01-05 12:00:00 return", "E1 2024-01-05 13:00:00 unknown",
		}, nil},
		{"failed authentication is ignored and flagged", def, []string{
			"E1 2024-01-05 07:59:30 in fail", "E1 2024-01-05 08:00:00 in", "E1 2024-01-05 18:00:00 out", "E1 2024-01-05 19:00:00 out fail",
		}, []string{"E1 2024-01-05 01-05T08:00:00+09:00 01-05T18:00:00+09:00 failed_auth"}},
		{"failed authentication after midnight flags the night shift's day", def, []string{
			"E1 2024-01-05 22:00:00 in", "E1 2024-01-06 03:00:00 pass fail", "E1 2024-01-06 06:00:00 out",
		}, []string{"E1 2024-01-05 01-05T22:00:00+09:00 01-06T06:00:00+09:00 night_shift,failed_auth"}},
		{"passes and outings between in and out change nothing", def, []string{
			"E1 2024-01-05 08:00:00 in", "E1 2024-01-05 12:00:00 outing", "E1 2024-01-05 13:00:00 return",
			"E1 2024-01-05 15:00:00 pass", "E1 2024-01-05 18:00:00 out", "E1 2024-01-05 18:01:00 pass",
		}, []string{"E1 2024-01-05 01-05T08:00:00+09:00 01-05T18:00:00+09:00 -"}},
		{"dedup: a burst of ins keeps its first", def, []string{
			"E1 2024-01-05 08:00:00 in", "E1 2024-01-05 08:00:40 in", "E1 2024-01-05 08:01:30 in", "E1 2024-01-05 18:00:00 out",
		}, []string{"E1 2024-01-05 01-05T08:00:00+09:00 01-05T18:00:00+09:00 -"}},
		{"dedup: ins across midnight make one day", def, []string{
			"E1 2024-01-05 23:59:40 in", "E1 2024-01-06 00:00:20 in", "E1 2024-01-06 07:00:00 out",
		}, []string{"E1 2024-01-05 01-05T23:59:40+09:00 01-06T07:00:00+09:00 night_shift"}},
		{"no dedup: ins across midnight make two days", with(func(r *Rules) { r.DedupWindow = 0 }), []string{
			"E1 2024-01-05 23:59:40 in", "E1 2024-01-06 00:00:20 in", "E1 2024-01-06 07:00:00 out",
		}, []string{
			"E1 2024-01-05 01-05T23:59:40+09:00 - missing_out",
			"E1 2024-01-06 01-06T00:00:20+09:00 01-06T07:00:00+09:00 -",
		}},
		{"dedup: outs across day start keep the last", def, []string{
			"E1 2024-01-06 03:59:50 out", "E1 2024-01-06 04:00:30 out",
		}, []string{"E1 2024-01-06 - 01-06T04:00:30+09:00 missing_in"}},
		{"no dedup: outs across day start make two days", with(func(r *Rules) { r.DedupWindow = 0 }), []string{
			"E1 2024-01-06 03:59:50 out", "E1 2024-01-06 04:00:30 out",
		}, []string{
			"E1 2024-01-05 - 01-06T03:59:50+09:00 missing_in,night_shift",
			"E1 2024-01-06 - 01-06T04:00:30+09:00 missing_in",
		}},
		{"dedup: taps further apart than the window stay", def, []string{
			"E1 2024-01-05 23:58:50 in", "E1 2024-01-06 00:00:00 in",
		}, []string{
			"E1 2024-01-05 01-05T23:58:50+09:00 - missing_out",
			"E1 2024-01-06 01-06T00:00:00+09:00 - missing_out",
		}},
		{"duplicate event ids count once", def, []string{
			"E1 2024-01-05 08:00:00 in id=a", "E1 2024-01-05 08:00:00 in id=a", "E1 2024-01-05 18:00:00 out id=b", "E1 2024-01-05 18:00:00 out id=b",
		}, []string{"E1 2024-01-05 01-05T08:00:00+09:00 01-05T18:00:00+09:00 -"}},
		{"conflicting copies of an event id: one wins regardless of order", def, []string{
			"E1 2024-01-05 18:00:00 out id=x", "E1 2024-01-05 08:00:00 in id=x",
		}, []string{"E1 2024-01-05 01-05T08:00:00+09:00 - missing_out"}},
		{"the same event id for two people is each one's punch", def, []string{
			"E1 2024-01-05 08:00:00 in id=a", "E2 2024-01-05 08:00:00 in id=a",
		}, []string{
			"E1 2024-01-05 01-05T08:00:00+09:00 - missing_out",
			"E2 2024-01-05 01-05T08:00:00+09:00 - missing_out",
		}},
		{"UTC punches, no location: dates in UTC", def, []string{
			"E1 2024-01-04 23:30:00Z in", "E1 2024-01-05 09:00:00Z out",
		}, []string{"E1 2024-01-04 01-04T23:30:00Z 01-05T09:00:00Z night_shift"}},
		{"UTC punches, Asia/Seoul: dates and times in KST", with(func(r *Rules) { r.Location = seoul }), []string{
			"E1 2024-01-04 23:30:00Z in", "E1 2024-01-05 09:00:00Z out",
		}, []string{"E1 2024-01-05 01-05T08:30:00+09:00 01-05T18:00:00+09:00 -"}},
		{"+09:00 punches: Asia/Seoul and own offset agree", with(func(r *Rules) { r.Location = seoul }), []string{
			"E1 2024-01-05 22:00:00 in", "E1 2024-01-06 06:30:00 out", "E1 2024-01-07 02:00:00 out",
		}, []string{
			"E1 2024-01-05 01-05T22:00:00+09:00 01-06T06:30:00+09:00 night_shift",
			"E1 2024-01-06 - 01-07T02:00:00+09:00 missing_in,night_shift",
		}},
		{"DST: a night of 8 local hours is 7 real hours", with(func(r *Rules) { r.Location = newYork; r.MaxShift = 7 * time.Hour }), []string{
			"E1 2024-03-10 03:00:00Z in", "E1 2024-03-10 10:00:00Z out",
		}, []string{"E1 2024-03-09 03-09T22:00:00-05:00 03-10T06:00:00-04:00 night_shift,long_shift"}},
		{"DST: local dates follow the zone's offset on each side", with(func(r *Rules) { r.Location = newYork }), []string{
			"E1 2024-03-10 04:30:00Z in", "E1 2024-03-11 03:30:00Z in",
		}, []string{
			"E1 2024-03-09 03-09T23:30:00-05:00 - missing_out",
			"E1 2024-03-10 03-10T23:30:00-04:00 - missing_out",
		}},
		{"pass as arrival off: pass ignored", def, []string{
			"E1 2024-01-05 08:40:00 pass", "E1 2024-01-05 08:55:00 in", "E1 2024-01-05 18:00:00 out",
		}, []string{"E1 2024-01-05 01-05T08:55:00+09:00 01-05T18:00:00+09:00 -"}},
		{"pass as arrival on: first pass before the in", with(func(r *Rules) { r.PassAsArrival = true }), []string{
			"E1 2024-01-05 08:40:00 pass", "E1 2024-01-05 08:45:00 pass", "E1 2024-01-05 08:55:00 in", "E1 2024-01-05 18:00:00 out",
		}, []string{"E1 2024-01-05 01-05T08:40:00+09:00 01-05T18:00:00+09:00 pass_as_arrival"}},
		{"pass as arrival on: a pass hours before the in is not the arrival", with(func(r *Rules) { r.PassAsArrival = true }), []string{
			"E1 2024-01-05 05:00:00 pass", "E1 2024-01-05 07:30:00 pass", "E1 2024-01-05 08:00:00 in", "E1 2024-01-05 18:00:00 out",
		}, []string{"E1 2024-01-05 01-05T07:30:00+09:00 01-05T18:00:00+09:00 pass_as_arrival"}},
		{"pass as arrival on: passes after the in change nothing", with(func(r *Rules) { r.PassAsArrival = true }), []string{
			"E1 2024-01-05 08:00:00 in", "E1 2024-01-05 09:00:00 pass", "E1 2024-01-05 18:00:00 out",
		}, []string{"E1 2024-01-05 01-05T08:00:00+09:00 01-05T18:00:00+09:00 -"}},
		{"pass as arrival on: an after-midnight pass stays with the night shift", with(func(r *Rules) { r.PassAsArrival = true }), []string{
			"E1 2024-01-05 18:30:15 in", "E1 2024-01-06 00:12:40 pass", "E1 2024-01-06 01:00:00 out",
			"E1 2024-01-06 08:00:00 in", "E1 2024-01-06 17:00:00 out",
		}, []string{
			"E1 2024-01-05 01-05T18:30:15+09:00 01-06T01:00:00+09:00 night_shift",
			"E1 2024-01-06 01-06T08:00:00+09:00 01-06T17:00:00+09:00 -",
		}},
		{"failed pass is not an arrival", with(func(r *Rules) { r.PassAsArrival = true }), []string{
			"E1 2024-01-05 08:40:00 pass fail", "E1 2024-01-05 08:55:00 in", "E1 2024-01-05 18:00:00 out",
		}, []string{"E1 2024-01-05 01-05T08:55:00+09:00 01-05T18:00:00+09:00 failed_auth"}},
		{"several people sorted by employee number then day", def, []string{
			"E2 2024-01-06 08:00:00 in", "E10 2024-01-05 08:00:00 in", "E2 2024-01-05 08:00:00 in", "E10 2024-01-05 17:00:00 out",
		}, []string{
			"E10 2024-01-05 01-05T08:00:00+09:00 01-05T17:00:00+09:00 -",
			"E2 2024-01-05 01-05T08:00:00+09:00 - missing_out",
			"E2 2024-01-06 01-06T08:00:00+09:00 - missing_out",
		}},
		{"punches without employee number are ignored", def, []string{
			" 2024-01-05 08:00:00 in",
		}, nil},
		{"shorter max shift", with(func(r *Rules) { r.MaxShift = 10 * time.Hour }), []string{
			"E1 2024-01-05 08:00:00 in", "E1 2024-01-05 19:00:00 out",
		}, []string{"E1 2024-01-05 01-05T08:00:00+09:00 - missing_out,out_beyond_max_shift"}},
		{"day start 06:00", with(func(r *Rules) { r.DayStart = 6 * time.Hour }), []string{
			"E1 2024-01-06 05:30:00 out",
		}, []string{"E1 2024-01-05 - 01-06T05:30:00+09:00 missing_in,night_shift"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.rules.Validate(); err != nil {
				t.Fatal(err)
			}
			var in []attendance.Punch
			for _, s := range tc.in {
				if strings.HasPrefix(s, " ") { // no employee number
					p := pb(t, "X"+s)
					p.EmployeeNo = ""
					in = append(in, p)
					continue
				}
				in = append(in, pb(t, s))
			}
			got := renderAll(Days(tc.rules, in))
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

func TestDaysSite(t *testing.T) {
	recs := Days(DefaultRules(), punches(t,
		"E1 2024-01-05 08:00:00 in site=a", "E1 2024-01-05 18:00:00 out site=b",
		"E1 2024-01-07 02:00:00 out site=c",
	))
	if len(recs) != 2 || recs[0].Site != "a" || recs[1].Site != "c" {
		t.Fatalf("sites: %+v", recs)
	}
}

func TestDaysFlagsNeverNil(t *testing.T) {
	recs := Days(DefaultRules(), punches(t, "E1 2024-01-05 08:00:00 in", "E1 2024-01-05 17:00:00 out"))
	if len(recs) != 1 || recs[0].Flags == nil || len(recs[0].Flags) != 0 {
		t.Fatalf("flags: %#v", recs)
	}
	if got := Days(DefaultRules(), nil); len(got) != 0 {
		t.Fatalf("no punches: %v", got)
	}
}

func TestDaysDoesNotModifyInput(t *testing.T) {
	in := punches(t, "E2 2024-01-05 18:00:00 out", "E1 2024-01-05 08:00:00 in", "E1 2024-01-05 08:00:00 in")
	before := fmt.Sprint(in)
	Days(DefaultRules(), in)
	if fmt.Sprint(in) != before {
		t.Fatal("Days reordered or changed its input")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Rules)
		ok   bool
	}{
		{"defaults", func(*Rules) {}, true},
		{"midnight day start", func(r *Rules) { r.DayStart = 0 }, true},
		{"no dedup", func(r *Rules) { r.DedupWindow = 0 }, true},
		{"24h duty", func(r *Rules) { r.MaxShift = 24 * time.Hour }, true},
		{"negative day start", func(r *Rules) { r.DayStart = -time.Hour }, false},
		{"day start 24h", func(r *Rules) { r.DayStart = 24 * time.Hour }, false},
		{"zero max shift", func(r *Rules) { r.MaxShift = 0 }, false},
		{"max shift 49h", func(r *Rules) { r.MaxShift = 49 * time.Hour }, false},
		{"negative dedup", func(r *Rules) { r.DedupWindow = -time.Second }, false},
		{"dedup 2h", func(r *Rules) { r.DedupWindow = 2 * time.Hour }, false},
		{"zero rules", func(r *Rules) { *r = Rules{} }, false},
	}
	for _, tc := range tests {
		r := DefaultRules()
		tc.mod(&r)
		if err := r.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	if d := DefaultRules(); d.DayStart != 4*time.Hour || d.MaxShift != 16*time.Hour || d.DedupWindow != time.Minute || d.PassAsArrival || d.Location != nil {
		t.Errorf("defaults: %+v", d)
	}
}

func TestAffected(t *testing.T) {
	def := DefaultRules()
	tests := []struct {
		name  string
		rules Rules
		in    []string
		want  string
	}{
		{"in at 08:00 reaches back to the previous day and ahead to the same day", def,
			[]string{"E1 2024-01-05 08:00:00 in"}, "E1/2024-01-04 E1/2024-01-05"},
		{"in at 22:00 can take outs whose fallback is the next day", def,
			[]string{"E1 2024-01-05 22:00:00 in"}, "E1/2024-01-05 E1/2024-01-06"},
		{"out at 02:00", def,
			[]string{"E1 2024-01-06 02:00:00 out"}, "E1/2024-01-05 E1/2024-01-06"},
		{"out at 18:00", def,
			[]string{"E1 2024-01-05 18:00:00 out"}, "E1/2024-01-05"},
		{"pass changes nothing by default", def,
			[]string{"E1 2024-01-05 08:00:00 pass", "E1 2024-01-05 12:00:00 outing"}, ""},
		{"pass with pass-as-arrival changes its date", Rules{DayStart: 4 * time.Hour, MaxShift: 16 * time.Hour, PassAsArrival: true},
			[]string{"E1 2024-01-05 08:00:00 pass"}, "E1/2024-01-05"},
		{"several people, sorted and unique", def,
			[]string{"E2 2024-01-05 18:00:00 out", "E1 2024-01-05 17:00:00 out", "E1 2024-01-05 18:00:00 out fail"}, "E1/2024-01-05 E2/2024-01-05"},
	}
	for _, tc := range tests {
		var got []string
		for _, k := range Affected(tc.rules, punches(t, tc.in...)) {
			got = append(got, k.EmployeeNo+"/"+k.WorkingDay)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, strings.Join(got, " "), tc.want)
		}
	}
}

func TestWindowContainsDocumentedInterval(t *testing.T) {
	r := DefaultRules()
	ps := punches(t, "E1 2024-01-05 08:00:00 in", "E1 2024-01-07 18:00:00 out", "E2 2024-01-06 12:00:00 outing")
	from, to := Window(r, ps)
	wantFrom := ps[0].OccurredAt.Add(-r.MaxShift - 24*time.Hour - r.DayStart)
	wantTo := ps[1].OccurredAt.Add(r.MaxShift + 24*time.Hour)
	if from.After(wantFrom) || to.Before(wantTo) {
		t.Fatalf("Window = [%v, %v], want it to contain [%v, %v]", from, to, wantFrom, wantTo)
	}
	if f, e := Window(r, nil); !f.IsZero() || !e.IsZero() {
		t.Fatalf("Window(nil) = %v, %v", f, e)
	}
	// Only outings: exactly the documented interval.
	o := punches(t, "E1 2024-01-05 12:00:00 outing")
	f, e := Window(r, o)
	if !f.Equal(o[0].OccurredAt.Add(-44*time.Hour)) || !e.Equal(o[0].OccurredAt.Add(40*time.Hour)) {
		t.Fatalf("Window(outing) = [%v, %v]", f, e)
	}
}

func BenchmarkDays(b *testing.B) {
	// 500 people, 22 working days, 4 punches a day.
	var ps []attendance.Punch
	start := time.Date(2024, 1, 1, 8, 0, 0, 0, kst)
	for e := range 500 {
		for d := range 22 {
			day := start.AddDate(0, 0, d).Add(time.Duration(e%60) * time.Minute)
			for i, m := range []attendance.Mode{"pass", "in", "outing", "out"} {
				ps = append(ps, attendance.Punch{EventID: fmt.Sprint(e, d, i), EmployeeNo: fmt.Sprintf("E%04d", e),
					OccurredAt: day.Add(time.Duration(i) * 3 * time.Hour), Mode: m, AuthOK: true})
			}
		}
	}
	r := DefaultRules()
	b.ResetTimer()
	for b.Loop() {
		if got := Days(r, ps); len(got) != 500*22 {
			b.Fatalf("%d records", len(got))
		}
	}
}
