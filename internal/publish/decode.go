package publish

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"unicode/utf8"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

// PunchDecoder decodes punch message values (the JSON appendPunch writes)
// for the consumers: the history writer and the pusher. Decode gives exactly
// what json.Unmarshal gives into a zero attendance.Punch, error or not; the
// documents appendPunch writes (fields in its order, no escapes, valid
// UTF-8) take a fast path without reflection, everything else goes through
// encoding/json. Decoding every message with encoding/json was a third of
// the pusher process's CPU in a backfill.
//
// Values that repeat from punch to punch (vendor, layout, site, mode, raw
// mode, device, source file) are interned; the others of one punch share one
// allocation. A PunchDecoder is not safe for concurrent use; the zero value
// is ready.
type PunchDecoder struct {
	intern map[string]string
	last   [7]string // the last value of each interned field
	buf    []byte
}

// maxInterned bounds the intern table; it starts over when full.
const maxInterned = 4096

// Decode decodes b into *p (overwritten).
func (d *PunchDecoder) Decode(b []byte, p *attendance.Punch) error {
	*p = attendance.Punch{}
	if d.fast(b, p) {
		return nil
	}
	*p = attendance.Punch{}
	return json.Unmarshal(b, p)
}

// UnmarshalPunch is json.Unmarshal of one punch value into a zero Punch,
// with PunchDecoder's fast path.
func UnmarshalPunch(b []byte, p *attendance.Punch) error {
	var d PunchDecoder
	return d.Decode(b, p)
}

// span is a string value's position in the input.
type span struct{ lo, hi int }

// fast decodes the exact shape appendPunch writes. It reports false, with
// *p in any state, for anything else, and the caller falls back to
// encoding/json: every input it accepts is one encoding/json decodes to the
// same value.
func (d *PunchDecoder) fast(b []byte, p *attendance.Punch) bool {
	i := 0
	// lit consumes a literal.
	lit := func(s string) bool {
		if len(b)-i < len(s) || string(b[i:i+len(s)]) != s {
			return false
		}
		i += len(s)
		return true
	}
	// str consumes a JSON string without escapes or control characters
	// and with valid UTF-8 (which encoding/json decodes to its bytes).
	str := func() (span, bool) {
		if i >= len(b) || b[i] != '"' {
			return span{}, false
		}
		lo := i + 1
		q := bytes.IndexByte(b[lo:], '"')
		if q < 0 || !plainString(b[lo:lo+q]) {
			return span{}, false
		}
		i = lo + q + 1
		return span{lo, lo + q}, true
	}
	// field consumes a key and its string; once one fails, ok stays false.
	ok := true
	field := func(key string) (v span) {
		if ok = ok && lit(key); ok {
			v, ok = str()
		}
		return v
	}
	id := field(`{"event_id":`)
	vendor := field(`,"vendor":`)
	layout := field(`,"layout":`)
	site := field(`,"site":`)
	at := field(`,"occurred_at":`)
	emp := field(`,"employee_no":`)
	name := field(`,"name":`)
	cm := field(`,"card_masked":`)
	var ch span // omitempty: the key may be absent
	if ok && lit(`,"card_hash":`) {
		ch, ok = str()
	}
	mode := field(`,"mode":`)
	raw := field(`,"raw_mode":`)
	dev := field(`,"device":`)
	if !ok || !lit(`,"auth_ok":`) {
		return false
	}
	switch {
	case lit("true"):
		p.AuthOK = true
	case lit("false"):
	default:
		return false
	}
	file := field(`,"source_file":`)
	if !ok || !lit(`,"source_line":`) {
		return false
	}
	// An int as encoding/json accepts it: -?(0|[1-9][0-9]*), no fraction or
	// exponent, within int64.
	neg := lit("-")
	start := i
	var n uint64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' && i-start < 20 {
		n = n*10 + uint64(b[i]-'0')
		i++
	}
	digits := i - start
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	if digits == 0 || digits > 19 || (digits > 1 && b[start] == '0') || n > limit {
		return false
	}
	if neg {
		p.SourceLine = int(-n)
	} else {
		p.SourceLine = int(n)
	}
	if !lit("}") || i != len(b) {
		return false
	}
	// Time.UnmarshalJSON parses the text between the quotes with the same
	// strict RFC 3339 parser as UnmarshalText.
	if err := p.OccurredAt.UnmarshalText(b[at.lo:at.hi]); err != nil {
		return false
	}

	// The per-punch values share one string.
	d.buf = append(d.buf[:0], b[id.lo:id.hi]...)
	d.buf = append(d.buf, b[emp.lo:emp.hi]...)
	d.buf = append(d.buf, b[name.lo:name.hi]...)
	d.buf = append(d.buf, b[cm.lo:cm.hi]...)
	d.buf = append(d.buf, b[ch.lo:ch.hi]...)
	all := string(d.buf)
	k := 0
	cut := func(s span) string {
		v := all[k : k+s.hi-s.lo]
		k += s.hi - s.lo
		return v
	}
	p.EventID, p.EmployeeNo, p.Name, p.CardMasked, p.CardHash = cut(id), cut(emp), cut(name), cut(cm), cut(ch)
	p.Vendor, p.Layout, p.Site = d.str(0, b[vendor.lo:vendor.hi]), d.str(1, b[layout.lo:layout.hi]), d.str(2, b[site.lo:site.hi])
	p.Mode, p.RawMode, p.Device = attendance.Mode(d.str(3, b[mode.lo:mode.hi])), d.str(4, b[raw.lo:raw.hi]), d.str(5, b[dev.lo:dev.hi])
	p.SourceFile = d.str(6, b[file.lo:file.hi])
	return true
}

// plainString reports whether s, the text between two quotes, decodes to
// itself: no backslash, no control character, valid UTF-8. Eight bytes at a
// time while they are ASCII.
func plainString(s []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(s[i:])
		bs := x ^ ('\\' * ones)
		if (x-0x20*ones)&^x&highs != 0 || (bs-ones)&^bs&highs != 0 {
			return false // a byte below 0x20, or a backslash
		}
		if x&highs != 0 {
			break // non-ASCII: the rest byte by byte
		}
	}
	ascii := true
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' || c < 0x20:
			return false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return ascii || utf8.Valid(s)
}

// str returns v, the value of interned field f, as an interned string.
func (d *PunchDecoder) str(f int, v []byte) string {
	if len(v) == 0 {
		return ""
	}
	if string(v) == d.last[f] {
		return d.last[f]
	}
	if s, ok := d.intern[string(v)]; ok {
		d.last[f] = s
		return s
	}
	if d.intern == nil || len(d.intern) >= maxInterned {
		d.intern = make(map[string]string, 64)
	}
	s := string(v)
	d.intern[s] = s
	d.last[f] = s
	return s
}
