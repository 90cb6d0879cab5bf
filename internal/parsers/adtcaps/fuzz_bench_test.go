package adtcaps

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
	"golang.org/x/text/encoding/korean"
)

func fuzzLayout(f *testing.F, name string, seeds ...string) {
	for _, s := range seeds {
		f.Add(read(f, s))
	}
	l := layout(f, name)
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := run(t, l, "fuzz.txt", raw)
		if err != nil && !parsekit.IsFileError(err) && err != parsekit.ErrNotText && !bytes.Contains([]byte(err.Error()), []byte("not a text file")) {
			t.Fatalf("non-file error: %v", err)
		}
		if c != nil {
			checkInvariants(t, raw, c)
		}
	})
}

func FuzzEvent(f *testing.F) {
	fuzzLayout(f, layoutEvent, "caps_events_20240105_0928.txt", "caps_events_20240106_0028_utf8.txt")
}
func FuzzTenter(f *testing.F) {
	fuzzLayout(f, layoutTenter, "tenter_20240105.csv", "tenter_access_20240108.csv")
}
func FuzzOvrwrk(f *testing.F) { fuzzLayout(f, layoutOvrwrk, "ovrwrk_20240105.txt") }

type counter struct{ punches, rejects int }

func (c *counter) Punch(attendance.Punch) error   { c.punches++; return nil }
func (c *counter) Reject(attendance.Reject) error { c.rejects++; return nil }

func bench(b *testing.B, name string, data []byte) {
	l := layout(b, name)
	opt := parsekit.Options{Site: "hq", File: "bench", CardKey: []byte("k")}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		text, _, err := parsekit.DecodeText(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		var c counter
		if err := l.Parse(text, opt, &c); err != nil || c.rejects > 0 {
			b.Fatal(err, c.rejects)
		}
	}
	b.ReportMetric(100_000*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// benchPeople is how many people the benchmark drops hold: a file repeats
// each person's card many times, as a real site's does.
const benchPeople = 3000

func eventData(people int) []byte {
	var buf bytes.Buffer
	for i := range 100000 {
		s := fmt.Sprintf("%02d%02d%02d", 8+i%10, i%60, i%60)
		p := i % people
		fmt.Fprintf(&buf, "%s%04d김민수1010%010d000120240105%s\r\n", s, p%9999, p, s)
	}
	data, _ := korean.EUCKR.NewEncoder().Bytes(buf.Bytes())
	return data
}

func BenchmarkEventCP949(b *testing.B) { bench(b, layoutEvent, eventData(benchPeople)) }

// BenchmarkEventCP949UniqueCards is the worst case: no card repeats, so
// every row pays the HMAC.
func BenchmarkEventCP949UniqueCards(b *testing.B) { bench(b, layoutEvent, eventData(100000)) }

func BenchmarkTenter(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("E_DATE,E_TIME,G_ID,E_ID,E_NAME,E_IDNO,E_CARD,E_GROUP,E_MODE,E_TYPE,E_RESULT\n")
	for i := range 100000 {
		fmt.Fprintf(&buf, "20240105,8%02d%02d,4000,%d,김민수,%04d,010%010d,1,1,1,0\n", i%60, i%60, i, i%benchPeople, i%benchPeople)
	}
	bench(b, layoutTenter, buf.Bytes())
}

func BenchmarkOvrwrk(b *testing.B) {
	var buf bytes.Buffer
	for i := range 100000 {
		fmt.Fprintf(&buf, "%d\t연구소\t선임\t1\t%04d\t김민수\t20240105\t평일\t085102\t183015\t\t\t0\t0\t0030\t0\t0930\t0900\n", i, i%9999)
	}
	data, _ := korean.EUCKR.NewEncoder().Bytes(buf.Bytes())
	bench(b, layoutOvrwrk, data)
}

// FuzzCutEventFastPath: the byte-offset cut of ASCII-ended lines must give
// exactly the character cut, on any line.
func FuzzCutEventFastPath(f *testing.F) {
	for _, name := range []string{"caps_events_20240105_0928.txt", "caps_events_20240106_0028_utf8.txt"} {
		text, _, err := parsekit.DecodeText(bytes.NewReader(read(f, name)))
		if err != nil {
			f.Fatal(err)
		}
		lr := parsekit.NewLineReader(text, 1<<16)
		for lr.Next() {
			f.Add(lr.Text())
		}
	}
	f.Fuzz(func(t *testing.T, line string) {
		if !utf8.ValidString(line) {
			return // parseEvent rejects invalid text before cutting
		}
		fast, fastProblem := cutEvent(line)
		slow, slowProblem := cutEventRunes(line)
		if fast != slow || fastProblem != slowProblem {
			t.Fatalf("%q: fast %+v %q, by characters %+v %q", line, fast, fastProblem, slow, slowProblem)
		}
	})
}

// FuzzEventPaths checks that the byte-level path for well-formed lines gives
// exactly the punch the character-level path gives.
func FuzzEventPaths(f *testing.F) {
	for _, name := range []string{"caps_events_20240105_0928.txt", "caps_events_20240106_0028_utf8.txt"} {
		text, _, err := parsekit.DecodeText(bytes.NewReader(read(f, name)))
		if err != nil {
			f.Fatal(err)
		}
		all, _ := io.ReadAll(text)
		for _, l := range bytes.Split(all, []byte("\n")) {
			f.Add(string(bytes.TrimRight(l, "\r")))
		}
	}
	f.Add("084500123김 민수 1101000000567800012024010508450" + "0")
	f.Fuzz(func(t *testing.T, line string) {
		b := trimBlanks([]byte(line))
		if !wellFormedEvent(b) {
			return
		}
		opt := parsekit.Options{Site: "hq", File: "f", CardKey: []byte("k")}.WithDefaults()
		var days parsekit.DayCache
		var codes codeTable
		fast, ok := eventFast(b, 7, &opt, &days, &codes)
		slow, problem, _ := eventSlow(string(b), 7, &opt)
		if !ok {
			if problem == "" {
				t.Fatalf("fast path refused a line the slow path takes: %q", b)
			}
			return
		}
		if problem != "" {
			t.Fatalf("fast path took a line the slow path rejects (%s): %q", problem, b)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("paths differ for %q:\nfast %+v\nslow %+v", b, fast, slow)
		}
	})
}

func TestDigits8(t *testing.T) {
	for pos := range 8 {
		for c := range 256 {
			b := []byte("01234567")
			b[pos] = byte(c)
			if want := c >= '0' && c <= '9'; digits8(b) != want {
				t.Fatalf("digits8(%q) = %v", b, !want)
			}
		}
	}
}
