package publish

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

// punchFields are the JSON names appendPunch writes, in order; a test checks
// them against attendance.Punch so a new field cannot be dropped silently.
var punchFields = []string{"event_id", "vendor", "layout", "site", "occurred_at", "employee_no", "name",
	"card_masked", "card_hash", "mode", "raw_mode", "device", "auth_ok", "source_file", "source_line"}

// appendPunch appends p as JSON, the same document encoding/json makes of it
// (field order, omitempty card_hash, RFC 3339 time), without reflection: the
// per-punch encode was a fifth of the ingest's CPU.
func appendPunch(b []byte, p *attendance.Punch) []byte {
	b = append(b, `{"event_id":`...)
	b = appendString(b, p.EventID)
	b = append(b, `,"vendor":`...)
	b = appendString(b, p.Vendor)
	b = append(b, `,"layout":`...)
	b = appendString(b, p.Layout)
	b = append(b, `,"site":`...)
	b = appendString(b, p.Site)
	b = append(b, `,"occurred_at":"`...)
	b = p.OccurredAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","employee_no":`...)
	b = appendString(b, p.EmployeeNo)
	b = append(b, `,"name":`...)
	b = appendString(b, p.Name)
	b = append(b, `,"card_masked":`...)
	b = appendString(b, p.CardMasked)
	if p.CardHash != "" {
		b = append(b, `,"card_hash":`...)
		b = appendString(b, p.CardHash)
	}
	b = append(b, `,"mode":`...)
	b = appendString(b, string(p.Mode))
	b = append(b, `,"raw_mode":`...)
	b = appendString(b, p.RawMode)
	b = append(b, `,"device":`...)
	b = appendString(b, p.Device)
	b = append(b, `,"auth_ok":`...)
	b = strconv.AppendBool(b, p.AuthOK)
	b = append(b, `,"source_file":`...)
	b = appendString(b, p.SourceFile)
	b = append(b, `,"source_line":`...)
	b = strconv.AppendInt(b, int64(p.SourceLine), 10)
	return append(b, '}')
}

// appendPartitionKey appends p.PartitionKey() without allocating.
func appendPartitionKey(b []byte, p *attendance.Punch) []byte {
	b = append(b, p.Site...)
	switch {
	case p.EmployeeNo != "":
		b = append(b, '/')
		return append(b, p.EmployeeNo...)
	case p.CardHash != "":
		b = append(b, "/card:"...)
		return append(b, p.CardHash...)
	default:
		b = append(b, "/card:"...)
		return append(b, p.CardMasked...)
	}
}

const hexDigits = "0123456789abcdef"

// jsonPlain marks the ASCII bytes encoding/json copies as they are (not a
// control character, quote, backslash, <, > or &).
var jsonPlain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString appends s as a JSON string the way encoding/json does:
// control characters, quote and backslash escaped, <, > and & as \u00XX,
// invalid UTF-8 as U+FFFD, U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonPlain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		// Hangul syllables (U+AC00..U+D7A3, three bytes EA..ED) are most of
		// the non-ASCII text: valid, and not U+2028/9.
		if i+2 < len(s) && c >= 0xea && c <= 0xed && s[i+1]&0xc0 == 0x80 && s[i+2]&0xc0 == 0x80 && (c != 0xed || s[i+1] < 0xa0) {
			i += 3
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
