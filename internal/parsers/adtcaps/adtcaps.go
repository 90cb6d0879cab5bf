// Package adtcaps parses ADT Caps (SK Shieldus) exports: caps-event-txt (the
// hourly tag file of 캡스 근태 매니저), caps-tenter-csv (a CSV dump of the
// vendor table tenter) and caps-ovrwrk-txt (the daily result file
// ovrwrk_YYYYMMDD.txt).
//
// Guarantees (vendor-exports.md §6): every data line becomes punches or one
// reject, in file order, with its physical line; a missing or wrong tenter
// header is a *parsekit.FileError; employee numbers are kept as written; the
// raw card never appears in any punch or reject; mode codes and success values
// come from opt.Codes; memory stays flat whatever the file size.
package adtcaps

import (
	"encoding/binary"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
)

const (
	vendor       = "adtcaps"
	layoutEvent  = "caps-event-txt"
	layoutTenter = "caps-tenter-csv"
	layoutOvrwrk = "caps-ovrwrk-txt"
)

// Layouts returns the ADT Caps layouts.
func Layouts() []parsekit.Layout {
	return []parsekit.Layout{
		{
			Name: layoutEvent, Vendor: vendor,
			Sniff: func(head string) bool { return sniffLines(head, isEventLine) },
			FileHint: func(name string) bool {
				return hasWord(name, "caps") && hasWord(name, ".txt") && !hasWord(name, "ovrwrk")
			},
			Parse: parseEvent,
		},
		{
			Name: layoutTenter, Vendor: vendor,
			Sniff:    func(head string) bool { return parsekit.SniffCSVHeader(head, 0, parsekit.CSVColumns[tenterRow]()...) },
			FileHint: func(name string) bool { return hasWord(name, "tenter") },
			Parse:    parseTenter,
		},
		{
			Name: layoutOvrwrk, Vendor: vendor,
			Sniff:    func(head string) bool { return sniffLines(head, isOvrwrkLine) },
			FileHint: func(name string) bool { return hasWord(name, "ovrwrk") },
			Parse:    parseOvrwrk,
		},
	}
}

func hasWord(name, w string) bool { return strings.Contains(strings.ToLower(name), w) }

// sniffLines looks at the complete non-blank lines of head (at most 20): at
// least one, and at least half of them, must have the layout's shape (a
// refill may carry a few broken lines; a foreign file has none).
func sniffLines(head string, shape func(string) bool) bool {
	lines := strings.Split(head, "\n")
	if len(lines) > 1 {
		lines = lines[:len(lines)-1] // the last may be cut mid-line
	}
	seen, good := 0, 0
	for _, l := range lines {
		l = strings.TrimRight(l, "\r")
		if strings.TrimSpace(l) == "" {
			continue
		}
		if seen++; shape(l) {
			good++
		}
		if seen == 20 {
			break
		}
	}
	return good > 0 && 2*good >= seen
}

// eventRE is the shape of a caps-event-txt line: HHMMSS, employee digits,
// name (no digits), code, 13-char card, 4-char terminal, 14-digit stamp.
var eventRE = regexp.MustCompile(`^[0-9]{6}[0-9]*[^0-9]*[0-9A-Za-z][0-9A-Za-z]{13}[0-9A-Za-z]{4}[0-9]{14}$`)

func isEventLine(l string) bool {
	if !eventRE.MatchString(l) {
		return false
	}
	return l[:6] == l[len(l)-6:]
}

// eventFields is one caps-event-txt line cut by characters from both ends.
type eventFields struct {
	hms, emp, name, code, card, term, stamp string
}

const eventTail = 1 + 13 + 4 + 14

// cutEvent splits a line: 6 characters from the front, 32 from the back, and
// the middle into its leading digits (employee number) and the rest (name).
// Characters, not bytes: the name is Korean and its byte width depends on the
// encoding the file had. When the front and back are ASCII (every well-formed
// line), byte offsets are character offsets and the cut allocates nothing.
func cutEvent(line string) (eventFields, string) {
	if len(line) < 6+eventTail || !ascii(line[:6]) || !ascii(line[len(line)-eventTail:]) {
		return cutEventRunes(line)
	}
	t := line[len(line)-eventTail:]
	return splitEvent(line[:6], line[6:len(line)-eventTail], t[0:1], t[1:14], t[14:18], t[18:32])
}

// cutEventRunes is cutEvent for lines with non-ASCII text at either end
// (misaligned or garbage lines): it counts characters.
func cutEventRunes(line string) (eventFields, string) {
	n := utf8.RuneCountInString(line)
	if n < 6+eventTail {
		return eventFields{}, fmt.Sprintf("line has %d characters, want at least %d (HHMMSS + number + name + code + card(13) + terminal(4) + stamp(14))", n, 6+eventTail)
	}
	at := func(i int) int { return byteOffset(line, i) }
	b := n - eventTail
	return splitEvent(line[:at(6)], line[at(6):at(b)], line[at(b):at(b+1)], line[at(b+1):at(b+14)], line[at(b+14):at(b+18)], line[at(b+18):])
}

// byteOffset is the byte offset of the i-th character of s.
func byteOffset(s string, i int) int {
	for off := range s {
		if i == 0 {
			return off
		}
		i--
	}
	return len(s)
}

// splitEvent checks the parts of a line cut by characters and splits the
// middle into the employee digits and the name.
func splitEvent(hms, mid, code, card, term, stamp string) (eventFields, string) {
	f := eventFields{hms: hms, code: code, card: card, term: term, stamp: stamp}
	i := 0
	for i < len(mid) && mid[i] >= '0' && mid[i] <= '9' {
		i++
	}
	f.emp, f.name = mid[:i], strings.TrimSpace(mid[i:])
	switch {
	case !allDigits(f.hms):
		return f, fmt.Sprintf("leading time %q is not HHMMSS", f.hms)
	case !allDigits(f.stamp):
		return f, "the last 14 characters are not a YYYYMMDDHHMMSS stamp" // not quoted: may hold card digits
	case f.hms != f.stamp[8:]:
		return f, fmt.Sprintf("leading time %s differs from the stamp's time %s (misaligned line)", f.hms, f.stamp[8:])
	case !alnum(f.code):
		// A name character in the code's place: the code is missing and
		// the line is one character short.
		return f, "attendance code is not a letter or digit (misaligned line)"
	case strings.IndexFunc(f.name, unicode.IsDigit) >= 0:
		return f, "the name holds digits (misaligned line)"
	case !alnum(f.card):
		return f, "card field is not 13 letters or digits"
	case !alnum(f.term):
		return f, fmt.Sprintf("terminal %q is not 4 letters or digits", f.term)
	case f.emp == "" && strings.Trim(f.card, "0") == "":
		return f, "neither an employee number nor a card"
	}
	return f, ""
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// wellFormedEvent reports whether a line (trailing blanks removed) can be cut
// by bytes without unicode tables: ASCII time, code, card, terminal and stamp
// in their places, the leading time equal to the stamp's, and a middle of
// ASCII digits then a name of ASCII non-digits and Hangul syllables. Every
// such line is one that cutEvent accepts, with the same fields; any other line
// goes through cutEvent, which says what is wrong.
func wellFormedEvent(b []byte) bool {
	if len(b) < 6+eventTail {
		return false
	}
	t := b[len(b)-eventTail:]
	// The stamp is 14 digits (two overlapping 8-byte words) and the leading
	// time repeats its last 6, so the leading time needs no check of its own.
	if !digits8(t[18:26]) || !digits8(t[24:32]) || string(b[:6]) != string(t[26:]) {
		return false
	}
	var bad byte
	for _, c := range t[:18] { // code, card, terminal
		bad |= notAlnum[c]
	}
	if bad != 0 {
		return false
	}
	mid := b[6 : len(b)-eventTail]
	i := 0
	for i < len(mid) && mid[i] >= '0' && mid[i] <= '9' {
		i++
	}
	if i == 0 && strings.Trim(string(t[1:14]), "0") == "" {
		return false // neither a number nor a card: a reject
	}
	for name := mid[i:]; len(name) > 0; {
		c := name[0]
		if c < utf8.RuneSelf {
			if c >= '0' && c <= '9' {
				return false
			}
			name = name[1:]
			continue
		}
		// A Hangul syllable (U+AC00..U+D7A3) is three bytes, lead EA..ED.
		if len(name) < 3 || c < 0xEA || c > 0xED || name[1]&0xC0 != 0x80 || name[2]&0xC0 != 0x80 {
			return false
		}
		if r := rune(c&0x0F)<<12 | rune(name[1]&0x3F)<<6 | rune(name[2]&0x3F); r < 0xAC00 || r > 0xD7A3 {
			return false
		}
		name = name[3:]
	}
	return true
}

// eventFast builds the punch of a well-formed line with one allocation for
// the line's text (every field is a piece of it) and the day's midnight from
// the cache; ok is false when the stamp needs the full path.
func eventFast(b []byte, line int, opt *parsekit.Options, days *parsekit.DayCache, codes *codeTable) (attendance.Punch, bool) {
	at, ok := days.Stamp14(b[len(b)-14:], opt.Location)
	if !ok {
		return attendance.Punch{}, false
	}
	s := opt.String(b)
	t := s[len(s)-eventTail:]
	mid := s[6 : len(s)-eventTail]
	i := 0
	for i < len(mid) && mid[i] >= '0' && mid[i] <= '9' {
		i++
	}
	return opt.Build(parsekit.Row{
		Vendor: vendor, Layout: layoutEvent, Line: line, At: at,
		EmployeeNo: mid[:i], Name: trimASCII(mid[i:]), Card: t[1:14],
		Mode: codes.mode(t[0], opt.Codes.CapsEventModes), RawMode: t[0:1], Device: t[14:18], AuthOK: true,
	}), true
}

// codeTable caches the site's mode of each one-character code for one parse
// (a map lookup per row otherwise).
type codeTable [128]attendance.Mode

func (c *codeTable) mode(code byte, modes map[string]attendance.Mode) attendance.Mode {
	if c[code] == "" {
		m, ok := modes[string(rune(code))]
		if !ok {
			m = attendance.ModeUnknown
		}
		c[code] = m
	}
	return c[code]
}

// trimASCII is strings.TrimSpace for text whose only non-ASCII characters
// are Hangul syllables (which are not spaces).
func trimASCII(s string) string {
	for len(s) > 0 && asciiSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && asciiSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// digits8 reports whether 8 bytes are all ASCII digits, a word at a time:
// no byte has its top bit, none is below '0' (the subtraction would set its
// top bit) and none is above '9' (adding 0x46 would).
func digits8(b []byte) bool {
	const hi = 0x8080808080808080
	x := binary.LittleEndian.Uint64(b)
	return (x|(x-0x3030303030303030)|(x+0x4646464646464646))&hi == 0
}

// notAlnum is 1 for every byte that is not an ASCII letter or digit.
var notAlnum = func() (t [256]byte) {
	for c := range t {
		if !isAlnum(byte(c)) {
			t[c] = 1
		}
	}
	return t
}()

// trimBlanks is bytes.TrimRight(b, " \t") without building a set per call.
func trimBlanks(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// eventSlow cuts any valid UTF-8 line by characters; a problem (with the
// card field to mask out of the reject) means the line is a reject.
func eventSlow(line string, n int, opt *parsekit.Options) (p attendance.Punch, problem, card string) {
	f, problem := cutEvent(line)
	var at time.Time
	if problem == "" {
		var err error
		if at, err = parsekit.Stamp14(f.stamp, opt.Location); err != nil {
			problem = "stamp: " + err.Error()
		}
	}
	if problem != "" {
		return p, problem, f.card
	}
	mode, ok := opt.Codes.CapsEventModes[f.code]
	if !ok {
		mode = attendance.ModeUnknown
	}
	return opt.Build(parsekit.Row{
		Vendor: vendor, Layout: layoutEvent, Line: n, At: at,
		EmployeeNo: f.emp, Name: f.name, Card: f.card,
		Mode: mode, RawMode: f.code, Device: f.term, AuthOK: true,
	}), "", f.card
}

func parseEvent(r io.Reader, opt parsekit.Options, emit parsekit.Emitter) error {
	opt = opt.WithDefaults()
	lr := parsekit.NewLineReader(r, opt.MaxLineBytes)
	var days parsekit.DayCache
	var codes codeTable
	for lr.Next() {
		if b := trimBlanks(lr.Bytes()); !lr.TooLong() && wellFormedEvent(b) {
			if p, ok := eventFast(b, lr.Line(), &opt, &days, &codes); ok {
				if err := emit.Punch(p); err != nil {
					return err
				}
				continue
			}
		}
		line := strings.TrimRight(lr.Text(), " \t")
		if lr.TooLong() {
			if err := reject(opt, emit, layoutEvent, lr.Line(), fmt.Sprintf("line longer than %d bytes", opt.MaxLineBytes), line); err != nil {
				return err
			}
			continue
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		if !utf8.ValidString(line) {
			if err := reject(opt, emit, layoutEvent, lr.Line(), "invalid text", line); err != nil {
				return err
			}
			continue
		}
		p, problem, card := eventSlow(line, lr.Line(), &opt)
		if problem != "" {
			if err := reject(opt, emit, layoutEvent, lr.Line(), problem, line, card); err != nil {
				return err
			}
			continue
		}
		if err := emit.Punch(p); err != nil {
			return err
		}
	}
	return readErr(opt, lr.Err())
}

// tenterRow holds the tenter columns of the contract.
// Blank fields are required columns no punch reads: checked, never mapped
// (gocsv's reflection is most of a row).
type tenterRow struct {
	EDate   string `csv:"E_DATE"`
	ETime   string `csv:"E_TIME"`
	GID     string `csv:"G_ID"`
	_       string `csv:"E_ID"`
	EName   string `csv:"E_NAME"`
	EIDNo   string `csv:"E_IDNO"`
	ECard   string `csv:"E_CARD"`
	_       string `csv:"E_GROUP"`
	EMode   string `csv:"E_MODE"`
	_       string `csv:"E_TYPE"`
	EResult string `csv:"E_RESULT"`
}

func parseTenter(r io.Reader, opt parsekit.Options, emit parsekit.Emitter) error {
	opt = opt.WithDefaults()
	rows, err := parsekit.NewCSVRows[tenterRow](r, opt, 0)
	if err != nil {
		return err
	}
	for rows.Next() {
		row := rows.Row()
		problem := rows.Problem()
		var at time.Time
		if problem == "" {
			// E_TIME lost its leading zeros in some dumps (85102 = 08:51:02).
			if at, err = parsekit.DateAndTime(row.EDate, row.ETime, opt.Location); err != nil {
				problem = "E_DATE/E_TIME: " + err.Error()
			} else if row.EIDNo == "" && strings.Trim(row.ECard, "0") == "" {
				problem = "neither E_IDNO nor E_CARD"
			}
		}
		if problem != "" {
			if err := reject(opt, emit, layoutTenter, rows.Line(), problem, rows.Raw(), row.ECard); err != nil {
				return err
			}
			continue
		}
		mode, ok := opt.Codes.CapsTenterModes[row.EMode]
		if !ok {
			mode = attendance.ModeUnknown
		}
		p := opt.Build(parsekit.Row{
			Vendor: vendor, Layout: layoutTenter, Line: rows.Line(), At: at,
			EmployeeNo: row.EIDNo, Name: row.EName, Card: row.ECard,
			Mode: mode, RawMode: row.EMode, Device: row.GID,
			AuthOK: slices.Contains(opt.Codes.CapsTenterSuccess, row.EResult),
		})
		if err := emit.Punch(p); err != nil {
			return err
		}
	}
	return readErr(opt, rows.Err())
}

// ovrwrk columns (tab-delimited, no header), as fixed by the contract.
const (
	colIDNo = 4
	colName = 5
	colDate = 6
	colIn   = 8
	colOut  = 9
	colLeav = 10
	colRet  = 11
	ovrCols = 18
)

var ovrwrkColumns = [...]string{"fpid", "c_dept", "c_pos", "e_group", "e_idno", "e_name", "d_date", "n_date",
	"in_time", "out_time", "leave", "return", "late", "early", "over", "night", "total", "allow"}

func isOvrwrkLine(l string) bool {
	var f ovrFields
	n := splitTabs(strings.TrimRight(l, "\r"), &f)
	return n == ovrCols && len(f[colDate]) == 8 && allDigits(f[colDate]) && (f[colIn] == "" || allDigits(f[colIn]))
}

// ovrFields holds the columns of one ovrwrk line plus room for one more.
type ovrFields [ovrCols + 1]string

// splitTabs splits line at tabs into f without allocating and returns the
// number of fields (which may exceed len(f); the extra ones are dropped). An
// empty field after the last column is a separator written after every
// field, not a column, and is not counted.
func splitTabs(line string, f *ovrFields) int {
	n := 0
	for {
		field, rest, more := strings.Cut(line, "\t")
		if n < len(f) {
			f[n] = field
		}
		n++
		if !more {
			break
		}
		line = rest
	}
	if n == ovrCols+1 && strings.TrimSpace(f[ovrCols]) == "" {
		n = ovrCols
	}
	return n
}

// parseOvrwrk emits in, out, outing and return punches from the daily result.
// A time earlier than in_time is on the next day (the file keeps HHMMSS only).
func parseOvrwrk(r io.Reader, opt parsekit.Options, emit parsekit.Emitter) error {
	opt = opt.WithDefaults()
	lr := parsekit.NewLineReader(r, opt.MaxLineBytes)
	type punch struct {
		col  int
		mode attendance.Mode
		at   time.Time
	}
	for lr.Next() {
		line := lr.Text()
		if lr.TooLong() {
			if err := reject(opt, emit, layoutOvrwrk, lr.Line(), fmt.Sprintf("line longer than %d bytes", opt.MaxLineBytes), line); err != nil {
				return err
			}
			continue
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		var f ovrFields
		punches := make([]punch, 0, 4) // in, out, leave, return: stays on the stack
		problem := ""
		if n := splitTabs(strings.TrimRight(line, "\r"), &f); n != ovrCols {
			problem = fmt.Sprintf("%d tab-separated fields, want %d", n, ovrCols)
		} else {
			for i := range ovrCols {
				f[i] = strings.TrimSpace(f[i])
				if len(f[i]) > opt.MaxFieldBytes {
					problem = fmt.Sprintf("%s longer than %d bytes", ovrwrkColumns[i], opt.MaxFieldBytes)
				}
			}
		}
		if problem == "" && f[colIDNo] == "" {
			problem = "e_idno is empty"
		}
		if problem == "" {
			var in time.Time
			for _, c := range []struct {
				col  int
				mode attendance.Mode
			}{{colIn, attendance.ModeIn}, {colOut, attendance.ModeOut}, {colLeav, attendance.ModeOuting}, {colRet, attendance.ModeReturn}} {
				if f[c.col] == "" {
					continue
				}
				at, err := parsekit.DateAndTime(f[colDate], f[c.col], opt.Location)
				if err != nil {
					problem = ovrwrkColumns[c.col] + ": " + err.Error()
					break
				}
				if c.col == colIn {
					in = at
				} else if !in.IsZero() && at.Before(in) {
					at = at.AddDate(0, 0, 1) // past midnight: the next day
				}
				punches = append(punches, punch{c.col, c.mode, at})
			}
		}
		if problem != "" {
			if err := reject(opt, emit, layoutOvrwrk, lr.Line(), problem, line); err != nil {
				return err
			}
			continue
		}
		for _, pu := range punches {
			p := opt.Build(parsekit.Row{
				Vendor: vendor, Layout: layoutOvrwrk, Line: lr.Line(), At: pu.at,
				EmployeeNo: f[colIDNo], Name: f[colName],
				Mode: pu.mode, RawMode: ovrwrkColumns[pu.col], AuthOK: true,
			})
			if err := emit.Punch(p); err != nil {
				return err
			}
		}
	}
	return readErr(opt, lr.Err())
}

// reject emits a reject with every card-like run and the row's own card
// masked out of the raw text and reason.
func reject(opt parsekit.Options, emit parsekit.Emitter, layout string, line int, reason, raw string, cards ...string) error {
	// Runs first, in place: masking a card found inside a longer run (or a
	// misaligned "card" spanning a run's edge) first would cut that run into
	// pieces that no longer look like a card and leave them readable. A Caps
	// event line glues the card to its neighbours, so the run of a whole line
	// is masked then.
	raw, reason = parsekit.MaskRuns(raw), parsekit.MaskRuns(reason)
	return emit.Reject(opt.Reject(vendor, layout, line, parsekit.MaskCardsIn(reason, cards...), raw, cards...))
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return false
		}
	}
	return s != ""
}

func readErr(opt parsekit.Options, err error) error {
	if err == nil {
		return nil
	}
	return &parsekit.FileError{File: opt.File, Reason: err.Error()}
}
