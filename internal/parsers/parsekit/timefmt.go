package parsekit

import (
	"fmt"
	"strings"
	"time"
)

// The vendors write naive Korean wall-clock times in four shapes. Every helper
// here interprets them in the site's zone (never UTC: one site saw a +9 h shift
// from exactly that) and rejects impossible dates instead of normalizing them
// (time.Date would turn Feb 30 into Mar 2).

func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func civil(y, mo, d, h, mi, s int, loc *time.Location) (time.Time, error) {
	if y < 1900 || y > 2999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59 || h < 0 || mi < 0 || s < 0 {
		return time.Time{}, fmt.Errorf("date/time out of range %04d-%02d-%02d %02d:%02d:%02d", y, mo, d, h, mi, s)
	}
	t := time.Date(y, time.Month(mo), d, h, mi, s, 0, loc)
	if t.Day() != d || int(t.Month()) != mo {
		return time.Time{}, fmt.Errorf("no such date %04d-%02d-%02d", y, mo, d)
	}
	return t, nil
}

// Stamp14 parses YYYYMMDDHHMMSS (Secom ATime, the Caps event stamp). An
// error quotes s whole, never a piece of it: a reject masks the card-like
// runs of its reason (MaskRuns), and a piece (the 6-character time of a
// stamp with a card glued in) would be too short to be one.
func Stamp14(s string, loc *time.Location) (time.Time, error) {
	if _, ok := digits(s); len(s) != 14 || !ok {
		return time.Time{}, fmt.Errorf("timestamp %q: want 14 digits YYYYMMDDHHMMSS", s)
	}
	return DateAndTime(s[:8], s[8:], loc)
}

// DateAndTime parses YYYYMMDD plus HHMMSS; a time shorter than 6 digits lost
// its leading zeros (Caps E_TIME) and is left-padded.
func DateAndTime(date8, hms string, loc *time.Location) (time.Time, error) {
	if len(date8) != 8 {
		return time.Time{}, fmt.Errorf("date %q: want 8 digits YYYYMMDD", date8)
	}
	y, ok1 := digits(date8[:4])
	mo, ok2 := digits(date8[4:6])
	d, ok3 := digits(date8[6:8])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, fmt.Errorf("date %q: not digits", date8)
	}
	if len(hms) == 0 || len(hms) > 6 {
		return time.Time{}, fmt.Errorf("time %q: want up to 6 digits HHMMSS", hms)
	}
	if len(hms) < 6 {
		hms = strings.Repeat("0", 6-len(hms)) + hms
	}
	h, ok4 := digits(hms[:2])
	mi, ok5 := digits(hms[2:4])
	sec, ok6 := digits(hms[4:6])
	if !ok4 || !ok5 || !ok6 {
		return time.Time{}, fmt.Errorf("time %q: not digits", hms)
	}
	return civil(y, mo, d, h, mi, sec, loc)
}

// KoreanAMPM parses "yyyy-MM-dd 오전|오후 h:mm:ss" (KT date_Attestation): 12-hour,
// unpadded hour; 오전 12 is 00 h, 오후 12 is 12 h. "AM"/"PM" are accepted too.
// Seconds may be missing.
func KoreanAMPM(s string, loc *time.Location) (time.Time, error) {
	f := strings.Fields(s)
	if len(f) != 3 {
		return time.Time{}, fmt.Errorf("time %q: want \"yyyy-MM-dd 오전|오후 h:mm:ss\"", s)
	}
	var pm bool
	switch strings.ToUpper(f[1]) {
	case "오전", "AM":
	case "오후", "PM":
		pm = true
	default:
		return time.Time{}, fmt.Errorf("time %q: %q is not 오전/오후", s, f[1])
	}
	y, mo, d, err := isoDate(f[0])
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %w", s, err)
	}
	h, mi, sec, err := clock(f[2])
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %w", s, err)
	}
	if h < 1 || h > 12 {
		return time.Time{}, fmt.Errorf("time %q: 12-hour clock hour %d out of 1..12", s, h)
	}
	h %= 12
	if pm {
		h += 12
	}
	return civil(y, mo, d, h, mi, sec, loc)
}

// ISODateTime parses "YYYY-MM-DD HH:MM[:SS]" (24-hour, Excel-style reports).
func ISODateTime(s string, loc *time.Location) (time.Time, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return time.Time{}, fmt.Errorf("time %q: want \"YYYY-MM-DD HH:MM[:SS]\"", s)
	}
	y, mo, d, err := isoDate(f[0])
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %w", s, err)
	}
	h, mi, sec, err := clock(f[1])
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %w", s, err)
	}
	return civil(y, mo, d, h, mi, sec, loc)
}

func isoDate(s string) (y, mo, d int, err error) {
	p := strings.Split(s, "-")
	if len(p) != 3 || len(p[0]) != 4 || len(p[1]) < 1 || len(p[1]) > 2 || len(p[2]) < 1 || len(p[2]) > 2 {
		return 0, 0, 0, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	var ok1, ok2, ok3 bool
	y, ok1 = digits(p[0])
	mo, ok2 = digits(p[1])
	d, ok3 = digits(p[2])
	if !ok1 || !ok2 || !ok3 {
		return 0, 0, 0, fmt.Errorf("date %q: not digits", s)
	}
	return y, mo, d, nil
}

func clock(s string) (h, mi, sec int, err error) {
	p := strings.Split(s, ":")
	if len(p) < 2 || len(p) > 3 {
		return 0, 0, 0, fmt.Errorf("clock %q: want h:mm[:ss]", s)
	}
	for i, part := range p {
		if len(part) < 1 || len(part) > 2 || (i > 0 && len(part) != 2) {
			return 0, 0, 0, fmt.Errorf("clock %q: want h:mm[:ss]", s)
		}
	}
	var ok1, ok2, ok3 bool
	h, ok1 = digits(p[0])
	mi, ok2 = digits(p[1])
	ok3 = true
	if len(p) == 3 {
		sec, ok3 = digits(p[2])
	}
	if !ok1 || !ok2 || !ok3 {
		return 0, 0, 0, fmt.Errorf("clock %q: not digits", s)
	}
	return h, mi, sec, nil
}

// DayCache turns YYYYMMDDHHMMSS stamps into times, keeping the midnight of
// up to 31 dates, one per day of the month: an export holds an hour, a day
// or a month of punches (a monthly file sorted by employee changes day on
// every row, a night shift reaches the next day), and time.Date with its
// zone lookup was a tenth of a caps-event-txt row. The zero value is ready;
// one per parse (it is not safe for concurrent use).
type DayCache [32]dayMidnight

type dayMidnight struct {
	date     [8]byte
	loc      *time.Location
	midnight time.Time
	valid    bool
}

// Stamp14 is Stamp14 for a stamp known to be 14 ASCII digits. ok is false
// when the cache cannot answer (an impossible date or time, or a day whose
// UTC offset changes, as on a DST switch): the caller then uses Stamp14,
// which gives the same time or the error.
func (dc *DayCache) Stamp14(s []byte, loc *time.Location) (t time.Time, ok bool) {
	if len(s) != 14 {
		return time.Time{}, false
	}
	h := int(s[8]-'0')*10 + int(s[9]-'0')
	mi := int(s[10]-'0')*10 + int(s[11]-'0')
	sec := int(s[12]-'0')*10 + int(s[13]-'0')
	if h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	c := &dc[(int(s[6]-'0')*10+int(s[7]-'0'))%len(dc)]
	if !c.valid || c.loc != loc || string(s[:8]) != string(c.date[:]) {
		c.valid = false
		y, okY := digits(string(s[:4]))
		mo, okM := digits(string(s[4:6]))
		d, okD := digits(string(s[6:8]))
		if !okY || !okM || !okD {
			return time.Time{}, false
		}
		m, err := civil(y, mo, d, 0, 0, 0, loc)
		if err != nil {
			return time.Time{}, false
		}
		// Only a day that is exactly 24 hours at one offset can be answered by
		// adding the wall-clock seconds to its midnight.
		next := time.Date(y, time.Month(mo), d+1, 0, 0, 0, 0, loc)
		_, off0 := m.Zone()
		_, off1 := next.Add(-time.Second).Zone()
		if next.Sub(m) != 24*time.Hour || off0 != off1 {
			return time.Time{}, false
		}
		copy(c.date[:], s[:8])
		c.loc, c.midnight, c.valid = loc, m, true
	}
	return c.midnight.Add(time.Duration(h*3600+mi*60+sec) * time.Second), true
}
