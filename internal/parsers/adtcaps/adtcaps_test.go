package adtcaps

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// collect is an Emitter that keeps everything.
type collect struct {
	punches []attendance.Punch
	rejects []attendance.Reject
	out     bytes.Buffer // NDJSON in emit order
}

func (c *collect) Punch(p attendance.Punch) error {
	c.punches = append(c.punches, p)
	return c.line("punch", p)
}

func (c *collect) Reject(r attendance.Reject) error {
	c.rejects = append(c.rejects, r)
	return c.line("reject", r)
}

func (c *collect) line(kind string, v any) error {
	b, err := json.Marshal(map[string]any{kind: v})
	c.out.Write(b)
	c.out.WriteByte('\n')
	return err
}

func layout(t testing.TB, name string) parsekit.Layout {
	for _, l := range Layouts() {
		if l.Name == name {
			return l
		}
	}
	t.Fatalf("no layout %s", name)
	return parsekit.Layout{}
}

// run decodes raw like the registry does and parses it with the layout.
func run(t testing.TB, l parsekit.Layout, file string, raw []byte) (*collect, error) {
	text, _, err := parsekit.DecodeText(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := &collect{}
	opt := parsekit.Options{Site: "hq", File: file, CardKey: []byte("test-key")}
	return c, l.Parse(text, opt, c)
}

// cardRE finds the raw cards of the fixtures (010 mobile-like, hex ones).
var cardRE = regexp.MustCompile(`(010[0-9A-Fa-f]{10})`)

// checkInvariants asserts what must hold for any input: no raw card in any
// output, valid punches, rejects with line and reason.
func checkInvariants(t testing.TB, input []byte, c *collect) {
	t.Helper()
	var ob strings.Builder
	enc := json.NewEncoder(&ob)
	enc.SetEscapeHTML(false) // "&2010…" must not become the token "u00262010…"
	for _, p := range c.punches {
		p.EmployeeNo, p.Name, p.RawMode, p.Device = "", "", "", ""
		_ = enc.Encode(p)
	}
	for _, r := range c.rejects {
		_ = enc.Encode(r)
	}
	// Stamp-shaped tokens in the output are dates a reason may quote.
	out := regexp.MustCompile(`[0-9A-Za-z]+`).ReplaceAllStringFunc(strings.ToUpper(ob.String()), func(tok string) string {
		if parsekit.IsStamp(tok) {
			return " "
		}
		return tok
	})
	// Cards are searched inside every run of letters and digits except the
	// timestamp-shaped ones, which rejects may quote (20100000000000 is a
	// date, not a card 0100000000000).
	for _, run := range regexp.MustCompile(`[0-9A-Za-z]+`).FindAllString(string(input), -1) {
		if parsekit.IsStamp(run) {
			continue
		}
		for _, m := range cardRE.FindAllString(run, -1) {
			if strings.Contains(out, strings.ToUpper(m)) {
				t.Errorf("raw card %s leaked into output", m)
			}
		}
	}
	for _, p := range c.punches {
		if !p.Mode.Valid() || p.OccurredAt.IsZero() || p.SourceLine < 1 || p.EventID == "" {
			t.Errorf("bad punch %+v", p)
		}
	}
	for _, r := range c.rejects {
		if r.Line < 1 || r.Reason == "" {
			t.Errorf("bad reject %+v", r)
		}
	}
}

// head is what the registry gives Sniff: up to 8 KiB of decoded text.
func head(t testing.TB, raw []byte) string {
	text, _, err := parsekit.DecodeText(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 8<<10)
	n, _ := io.ReadFull(text, b)
	return string(b[:n])
}

func read(t testing.TB, name string) []byte {
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

var fixtures = []struct{ file, layout string }{
	{"caps_events_20240105_0928.txt", layoutEvent},
	{"caps_events_20240106_0028_utf8.txt", layoutEvent},
	{"tenter_20240105.csv", layoutTenter},
	{"tenter_access_20240108.csv", layoutTenter},
	{"ovrwrk_20240105.txt", layoutOvrwrk},
}

func TestGolden(t *testing.T) {
	for _, tc := range fixtures {
		t.Run(tc.file, func(t *testing.T) {
			raw := read(t, tc.file)
			for _, l := range Layouts() {
				if got, want := l.Sniff(head(t, raw)), l.Name == tc.layout; got != want {
					t.Errorf("%s.Sniff(%s) = %v, want %v", l.Name, tc.file, got, want)
				}
			}
			c, err := run(t, layout(t, tc.layout), tc.file, raw)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			checkInvariants(t, raw, c)
			golden := filepath.Join("testdata", strings.TrimSuffix(tc.file, filepath.Ext(tc.file))+".golden")
			if *update {
				if err := os.WriteFile(golden, c.out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(c.out.Bytes(), want) {
				t.Errorf("output differs from %s (run with -update and review the diff):\n%s", golden, c.out.String())
			}
		})
	}
}

// TestEventLine pins the contract of caps-event-txt line by line.
func TestEventLine(t *testing.T) {
	c, err := run(t, layout(t, layoutEvent), "caps_events_20240105_0928.txt", read(t, "caps_events_20240105_0928.txt"))
	if err != nil {
		t.Fatal(err)
	}
	byLine := map[int][]attendance.Punch{}
	for _, p := range c.punches {
		byLine[p.SourceLine] = append(byLine[p.SourceLine], p)
	}
	rejected := map[int]string{}
	for _, r := range c.rejects {
		rejected[r.Line] = r.Reason
	}
	one := func(line int) attendance.Punch {
		t.Helper()
		if len(byLine[line]) != 1 {
			t.Fatalf("line %d: %d punches (reject: %q)", line, len(byLine[line]), rejected[line])
		}
		return byLine[line][0]
	}
	p := one(1)
	if p.EmployeeNo != "0001" || p.Name != "김민수" || p.Mode != attendance.ModeIn || p.CardMasked != "" || p.Device != "0003" ||
		p.OccurredAt.Format("2006-01-02T15:04:05Z07:00") != "2024-01-05T08:51:02+09:00" {
		t.Errorf("line 1 = %+v", p)
	}
	if p := one(2); p.Mode != attendance.ModePass || p.RawMode != "5" {
		t.Errorf("line 2 mode = %s/%s, want pass/5", p.Mode, p.RawMode)
	}
	if p := one(3); p.Mode != attendance.ModeOut || p.CardMasked != "*********6780" {
		t.Errorf("line 3 = %+v", p)
	}
	if p := one(4); p.OccurredAt.Day() != 6 || p.OccurredAt.Hour() != 0 {
		t.Errorf("line 4 after midnight = %v", p.OccurredAt)
	}
	if p := one(5); p.EmployeeNo != "1" {
		t.Errorf("lost zeros must be kept as written: %q", p.EmployeeNo)
	}
	if p := one(6); p.Name != "" || p.EmployeeNo != "0777" {
		t.Errorf("card-only user with an empty name: %+v", p)
	}
	if p := one(7); p.EmployeeNo != "" || p.CardMasked != "*********1234" || p.CardHash == "" {
		t.Errorf("card without employee number (hex upper-cased): %+v", p)
	}
	if one(8).EventID != one(9).EventID {
		t.Error("the same tap twice must keep one event id")
	}
	if p := one(10); p.Mode != attendance.ModeUnknown || p.RawMode != "7" {
		t.Errorf("unknown code: %+v", p)
	}
	if p := one(15); p.Name != "신예린" {
		t.Errorf("NUL bytes must be stripped from names: %q", p.Name)
	}
	if p := one(20); p.Name != "JOHN SMITH" || p.EmployeeNo != "0049" || p.Mode != attendance.ModeIn {
		t.Errorf("ASCII name with a space: %+v", p)
	}
	if p := one(21); p.Name != "최수아" || p.Mode != attendance.ModeOut || p.Device != "0001" {
		t.Errorf("space-padded name and trailing blank: %+v", p)
	}
	if !strings.Contains(rejected[19], "attendance code") {
		t.Errorf("a line without its code must be rejected, not read as code %q: %q", "현", rejected[19])
	}
	for _, line := range []int{12, 13, 14, 17, 18, 19} {
		if rejected[line] == "" {
			t.Errorf("line %d should be rejected", line)
		}
	}
	if !strings.Contains(rejected[13], "differs from the stamp") {
		t.Errorf("misaligned line reason = %q", rejected[13])
	}
	if len(byLine[11]) != 0 || rejected[11] != "" {
		t.Error("a blank line is neither a punch nor a reject")
	}
}

func TestTenter(t *testing.T) {
	c, err := run(t, layout(t, layoutTenter), "tenter_20240105.csv", read(t, "tenter_20240105.csv"))
	if err != nil {
		t.Fatal(err)
	}
	byLine := map[int]attendance.Punch{}
	for _, p := range c.punches {
		byLine[p.SourceLine] = p
	}
	if p := byLine[2]; p.OccurredAt.Format("15:04:05") != "08:51:02" || p.EmployeeNo != "100000000001" || p.Device != "4000" {
		t.Errorf("short E_TIME must be left-padded, E_IDNO kept: %+v", p)
	}
	for line, want := range map[int]attendance.Mode{3: attendance.ModeOuting, 4: attendance.ModeReturn, 5: attendance.ModeOut, 9: attendance.ModeUnknown} {
		if byLine[line].Mode != want {
			t.Errorf("line %d mode = %s, want %s", line, byLine[line].Mode, want)
		}
	}
	if byLine[7].AuthOK || !byLine[8].AuthOK {
		t.Errorf("E_RESULT 3 is a failed authentication, 0 a good one: %v %v", byLine[7].AuthOK, byLine[8].AuthOK)
	}
	if p := byLine[12]; p.OccurredAt.Format("15:04:05") != "00:00:05" {
		t.Errorf("E_TIME 5 = %v", p.OccurredAt)
	}
	if len(c.rejects) != 3 {
		t.Errorf("rejects = %+v, want bad date, short row and no-person row", c.rejects)
	}
}

// TestTenterAccess: a CP949/CRLF dump with a quoted lower-case header, an
// extra column, 18-character hex cards and a company-code prefix.
func TestTenterAccess(t *testing.T) {
	c, err := run(t, layout(t, layoutTenter), "tenter_access_20240108.csv", read(t, "tenter_access_20240108.csv"))
	if err != nil {
		t.Fatal(err)
	}
	byLine := map[int]attendance.Punch{}
	for _, p := range c.punches {
		byLine[p.SourceLine] = p
	}
	for _, tc := range []struct {
		line            int
		emp, name, card string
		mode            attendance.Mode
		at              string
		auth            bool
	}{
		{2, "160000120001", "김민수", "*********4950", attendance.ModeIn, "2024-01-08T08:35:12+09:00", true},
		{3, "160000120002", "이서연", "**************AF12", attendance.ModeIn, "2024-01-08T08:35:30+09:00", true},
		{4, "160000120002", "이서연", "**************AF12", attendance.ModeIn, "2024-01-08T08:35:31+09:00", false},
		{5, "", "", "************EF12", attendance.ModeIn, "2024-01-08T08:36:00+09:00", true},
		{6, "160000120001", "김민수", "*********4950", attendance.ModeOuting, "2024-01-08T12:10:00+09:00", true},
		{7, "160000120001", "김민수", "*********4950", attendance.ModeReturn, "2024-01-08T13:15:00+09:00", true},
		{9, "KS2203002", "정하은", "", attendance.ModeOut, "2024-01-08T18:30:12+09:00", true},
		{12, "160000120006", "최하은", "*********5566", attendance.ModeUnknown, "2024-01-09T00:30:10+09:00", true},
	} {
		p, ok := byLine[tc.line]
		if !ok {
			t.Errorf("line %d: no punch", tc.line)
			continue
		}
		if p.EmployeeNo != tc.emp || p.Name != tc.name || p.CardMasked != tc.card || p.Mode != tc.mode ||
			p.OccurredAt.Format(time.RFC3339) != tc.at || p.AuthOK != tc.auth || (tc.card != "") != (p.CardHash != "") {
			t.Errorf("line %d = %+v, want %+v", tc.line, p, tc)
		}
	}
	if len(c.rejects) != 1 || c.rejects[0].Line != 10 || !strings.Contains(c.rejects[0].Reason, "25:00:00") {
		t.Errorf("rejects = %+v, want line 10 (hour 25)", c.rejects)
	}
	if len(c.punches) != 9 {
		t.Errorf("%d punches, want 9", len(c.punches))
	}
}

func TestOvrwrk(t *testing.T) {
	c, err := run(t, layout(t, layoutOvrwrk), "ovrwrk_20240105.txt", read(t, "ovrwrk_20240105.txt"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[int][]string{}
	for _, p := range c.punches {
		got[p.SourceLine] = append(got[p.SourceLine], string(p.Mode)+"@"+p.OccurredAt.Format("01-02T15:04"))
	}
	want := map[int][]string{
		1: {"in@01-05T08:51", "out@01-05T18:30"},
		2: {"in@01-05T22:00", "out@01-06T06:30"}, // night shift: out earlier than in is the next day
		3: {"in@01-05T09:05", "outing@01-05T12:30", "return@01-05T13:30"},
		4: {"out@01-05T18:00"},
		5: {"in@01-05T09:30", "out@01-05T17:10"}, // 93000: lost leading zero
		// night shift with an outing around midnight; trailing separator
		10: {"in@01-05T22:00", "out@01-06T06:00", "outing@01-05T23:30", "return@01-06T00:30"},
		11: {"in@01-05T08:30", "out@01-05T17:30"}, // empty last column
	}
	for line, w := range want {
		if strings.Join(got[line], " ") != strings.Join(w, " ") {
			t.Errorf("line %d = %v, want %v", line, got[line], w)
		}
	}
	if len(got[9]) != 0 {
		t.Errorf("a day with no times is no punch: %v", got[9])
	}
	rej := map[int]bool{}
	for _, r := range c.rejects {
		rej[r.Line] = true
	}
	for _, line := range []int{6, 7, 8} {
		if !rej[line] || len(got[line]) != 0 {
			t.Errorf("line %d: want one reject and no punch", line)
		}
	}
}

func TestFileHint(t *testing.T) {
	for _, tc := range []struct {
		layout, name string
		want         bool
	}{
		{layoutEvent, "caps_events_20240105_0928.txt", true},
		{layoutEvent, "ovrwrk_20240105.txt", false},
		{layoutOvrwrk, "ovrwrk_20240105.txt", true},
		{layoutTenter, "tenter_20240105.csv", true},
		{layoutTenter, "T_SECOM_ALARM_20240105.csv", false},
	} {
		if got := layout(t, tc.layout).FileHint(tc.name); got != tc.want {
			t.Errorf("%s.FileHint(%s) = %v", tc.layout, tc.name, got)
		}
	}
}

// TestSiteCodes: code tables are per-site configuration.
func TestSiteCodes(t *testing.T) {
	codes := parsekit.DefaultCodes()
	codes.CapsEventModes = map[string]attendance.Mode{"1": attendance.ModeIn, "2": attendance.ModeOut, "5": attendance.ModeIn}
	c := &collect{}
	opt := parsekit.Options{Site: "hq2", File: "x.txt", Codes: codes}
	line := "0907040001이재영50000000000000000520240105090704\n"
	if err := layout(t, layoutEvent).Parse(strings.NewReader(line), opt, c); err != nil {
		t.Fatal(err)
	}
	if len(c.punches) != 1 || c.punches[0].Mode != attendance.ModeIn {
		t.Fatalf("site code table not applied: %+v", c.punches)
	}
}
