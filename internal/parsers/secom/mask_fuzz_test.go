package secom

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
)

// The card-mask fuzzers build one row around a fuzzed card (5-20 letters and
// digits) from edits of a well-formed row: the card glued to other letters or
// digits, repeated, overlapping itself, in another case, split by quotes or
// line breaks, in other columns, columns dropped, inserted or appended, the
// line made too long. The row is parsed through the layout's Parse (after a
// well-formed row with the same card), and the property is the one of the
// adtcaps fuzzers, for this one card: the card never appears (letters
// compared case-insensitively) in any reject's Raw or Reason, nor in any
// punch's card_masked, wherever the parser can tell it is a card:
//   - the row's CardNo, as the parser read it, is the card; or
//   - every occurrence of the card in the row's raw text lies in a card-like
//     run: 8 or more ASCII letters and digits, holding a digit, that is not a
//     plausible YYYYMMDD[HH[MM[SS]]] date or stamp (20109123456781 is no date:
//     it is a 2 glued to a card).
//
// A short card copied into another column of a row whose CardNo is something
// else is not known to be a card, and a card that is itself a plausible date
// reads as one: those may stay.

func FuzzAlarmCardMask(f *testing.F) {
	fuzzCardMask(f, layoutAlarm, alarmHeader, 11, "T_SECOM_ALARM_20240105.csv", "T_SECOM_ALARM_20240106.csv")
}

func FuzzWorkHistoryCardMask(f *testing.F) {
	fuzzCardMask(f, layoutWorkHist, workHeader, 3, "secom_workhistory_202401.csv")
}

// maskOpt: small limits, so that over-long lines and fields are reachable.
var maskOpt = parsekit.Options{Site: "factory", File: "fuzz.csv", CardKey: []byte("test-key"), MaxLineBytes: 400, MaxFieldBytes: 64}

func fuzzCardMask(f *testing.F, name, header string, cardCol int, fixtures ...string) {
	// Seeds: every data row of the fixtures, with its card, plus edits that
	// make it a reject (glued digits, overlapping repeats, shifted columns).
	var templates []string
	for _, fx := range fixtures {
		raw, err := os.ReadFile(filepath.Join("testdata", fx))
		if err != nil {
			f.Fatal(err)
		}
		text, _, err := parsekit.DecodeText(bytes.NewReader(raw))
		if err != nil {
			f.Fatal(err)
		}
		lr := parsekit.NewLineReader(text, 1<<16)
		for lr.Next() {
			if lr.Line() == 1 || strings.TrimSpace(lr.Text()) == "" {
				continue
			}
			fields := strings.Split(strings.TrimRight(lr.Text(), " \r"), ",")
			if len(fields) <= cardCol || len(lr.Text()) > 300 {
				continue
			}
			templates = append(templates, strings.Join(fields, ","))
			card := fields[cardCol]
			for _, spec := range [][]byte{
				nil,                // the row as it is (a punch)
				{0x01, 0},          // glue+card in the first column (a bad stamp)
				{0x14, 0},          // "2"+card in the first column
				{0x07, 1},          // card+card in the second column
				{0x08, 2},          // card[:k]+card
				{0x09, 3},          // card+card[k:]
				{0x03, 0, 0x60, 1}, // glue+card+glue; too few fields
				{0x80, 5},          // an extra non-empty field
				{0xc0, 0},          // a field inserted before all: columns shift
				{0xe0, 0},          // the first field deleted: columns shift
				{0xa0, 0},          // the line made too long
				{0x12, 0},          // a quoted line break before the card
				{0x04, 1, 0x05, 2}, // lower- and upper-case copies
			} {
				f.Add(card, "2", len(templates)-1, spec)
			}
		}
	}
	bad := byte(0x0d) // the first field (a date or stamp) set to the glue
	f.Add("1111111", "1", 0, []byte{bad, 0, 0x09, 1})
	f.Add("12121", "", 0, []byte{bad, 0, 0x09, 1, 0x0b, 2})
	f.Add("0109123456781", "2", 0, []byte{0xe0, 0, 0x14, byte(cardCol - 1)})
	f.Add("aB3dE", "", 0, []byte{bad, 0, 0x04, 1})
	l := layout(f, name)
	f.Fuzz(func(t *testing.T, card, glue string, tmpl int, spec []byte) {
		card, glue = alnumOf(card, 20), alnumOf(glue, 4)
		if len(card) < 5 || strings.Trim(card, "0") == "" || len(templates) == 0 {
			return // all zeros is no card (parsekit.NormalizeCard)
		}
		fields := strings.Split(templates[uint(tmpl)%uint(len(templates))], ",")
		fields[cardCol] = card
		row := editRow(slices.Clone(fields), card, glue, spec)
		input := header + "\r\n" + strings.Join(fields, ",") + "\r\n" + row + "\r\n"
		c := &collect{}
		if err := l.Parse(strings.NewReader(input), maskOpt, c); err != nil {
			t.Fatalf("parse: %v", err)
		}
		checkCardMasked(t, name, input, card, c)
	})
}

// alnumOf maps s to ASCII letters and digits (others become one of them),
// at most n of them.
func alnumOf(s string, n int) string {
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 0, min(len(s), n))
	for i := 0; i < len(s) && len(b) < n; i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			c = alnum[int(c)%len(alnum)]
		}
		b = append(b, c)
	}
	return string(b)
}

// editRow applies spec to the fields, two bytes per edit: what (op) and where
// (at), and returns the row's text.
func editRow(fields []string, card, glue string, spec []byte) string {
	for i := 0; i+1 < len(spec) && i < 32; i += 2 {
		op, at := spec[i], int(spec[i+1])
		v := piece(op&31, at, card, glue)
		n := len(fields)
		switch op >> 5 {
		case 0, 1, 2: // set a field
			if n > 0 {
				fields[at%n] = v
			}
		case 3: // too few fields
			fields = fields[:at%(n+1)]
		case 4: // too many fields
			fields = append(fields, v)
		case 5: // too long a line (the parser keeps a head)
			fields = append(fields, strings.Repeat("X", 100+at*2), v)
		case 6: // a field inserted: the columns after it shift
			if at %= n + 1; n < 64 {
				fields = append(fields[:at], append([]string{v}, fields[at:]...)...)
			}
		case 7: // a field deleted: the columns after it shift
			if n > 0 {
				at %= n
				fields = append(fields[:at], fields[at+1:]...)
			}
		}
	}
	return strings.Join(fields, ",")
}

// piece is a field value made from the card.
func piece(kind byte, at int, card, glue string) string {
	k := 1 + at%(len(card)-1) // 1..len-1
	switch kind {
	case 0:
		return card
	case 1:
		return glue + card
	case 2:
		return card + glue
	case 3:
		return glue + card + glue
	case 4:
		return strings.ToLower(card)
	case 5:
		return strings.ToUpper(card)
	case 6:
		return swapCase(card)
	case 7:
		return card + card
	case 8:
		return card[:k] + card // overlapping its own start
	case 9:
		return card + card[k:] // overlapping its own end
	case 10:
		return card[k:]
	case 11:
		return card[:k]
	case 12:
		return "20240105075640"
	case 13:
		return glue
	case 14:
		return ""
	case 15:
		return "김민수"
	case 16:
		return `"` + card + `"`
	case 17:
		return `"x,` + card + `"`
	case 18:
		return "\"x\n" + card + `"`
	case 19:
		return " " + card + " "
	case 20:
		return "2" + card
	case 21:
		return card + "0"
	case 22:
		return glue + strings.ToLower(card)
	case 23:
		return "20240105" + card
	case 24:
		return card[:k] + "\"" + card[k:]
	case 25:
		return card[:k] + " " + card
	case 26:
		return swapCase(card[:k]) + card
	case 27:
		return card[:k] + "," + card[k:]
	case 28:
		return card + strings.Repeat("9", 4+at%8)
	case 29:
		return strings.Repeat("1", at%6) + card + card[:k]
	case 30:
		return glue + card + card + glue
	default:
		return "x" + card + "-" + card
	}
}

func swapCase(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		case c >= 'A' && c <= 'Z':
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

// checkCardMasked asserts the property above for one card over the output of
// parsing input. It re-reads input with the parser's own row reader to learn,
// per line, the CardNo the parser saw and the raw text it had.
func checkCardMasked(t *testing.T, name, input, card string, c *collect) {
	t.Helper()
	type seen struct{ cardNo, raw string }
	byLine := map[int]seen{}
	read := func(line int, cardNo, raw string) { byLine[line] = seen{cardNo, raw} }
	switch name {
	case layoutAlarm:
		rows, err := parsekit.NewCSVRows[alarmRow](strings.NewReader(input), maskOpt, 0)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			read(rows.Line(), rows.Row().CardNo, rows.Raw())
		}
	default:
		rows, err := parsekit.NewCSVRows[workRow](strings.NewReader(input), maskOpt, 0)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			read(rows.Line(), rows.Row().CardNo, rows.Raw())
		}
	}
	up := strings.ToUpper(card)
	for _, p := range c.punches {
		if strings.Contains(strings.ToUpper(p.CardMasked), up) {
			t.Errorf("raw card %s in punch card_masked %q", card, p.CardMasked)
		}
	}
	for _, r := range c.rejects {
		s, ok := byLine[r.Line]
		if !ok {
			t.Fatalf("reject on line %d, which the row reader does not have", r.Line)
		}
		if !cardKnown(card, s.cardNo, s.raw) {
			continue
		}
		if strings.Contains(strings.ToUpper(r.Raw), up) || strings.Contains(strings.ToUpper(r.Reason), up) {
			t.Errorf("raw card %s leaked into reject (CardNo %q):\n raw    %q\n reason %q\n input  %q", card, s.cardNo, r.Raw, r.Reason, s.raw)
		}
	}
}

var alnumRun = regexp.MustCompile(`[0-9A-Za-z]+`)

// cardKnown: the parser can tell card is a card in a row whose CardNo it
// read as cardNo and whose text is raw.
func cardKnown(card, cardNo, raw string) bool {
	if strings.EqualFold(cardNo, card) {
		return true
	}
	up, text := strings.ToUpper(card), strings.ToUpper(raw)
	covered := make([]bool, len(text)) // bytes inside a card-like run
	for _, m := range alnumRun.FindAllStringIndex(text, -1) {
		if cardLike(text[m[0]:m[1]]) {
			for i := m[0]; i < m[1]; i++ {
				covered[i] = true
			}
		}
	}
	found := false
	for i := 0; i+len(up) <= len(text); i++ {
		if text[i:i+len(up)] != up {
			continue
		}
		found = true
		if !covered[i] { // a run holds the card whole or not at all
			return false
		}
	}
	return found
}

func cardLike(run string) bool {
	return len(run) >= 8 && strings.ContainsAny(run, "0123456789") && !plausibleStamp(run)
}

// plausibleStamp is a YYYYMMDD[HH[MM[SS]]] date or stamp (19xx/20xx, month
// 01-12, day 01-31, hour 00-24, minute and second 00-59).
func plausibleStamp(f string) bool {
	if len(f) < 8 || len(f) > 14 || len(f)%2 != 0 || strings.Trim(f, "0123456789") != "" || !(f[:2] == "19" || f[:2] == "20") {
		return false
	}
	in := func(i int, lo, hi string) bool { return i+2 > len(f) || (f[i:i+2] >= lo && f[i:i+2] <= hi) }
	return in(4, "01", "12") && in(6, "01", "31") && in(8, "00", "24") && in(10, "00", "59") && in(12, "00", "59")
}
