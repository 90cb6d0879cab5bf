package publish

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

// pieces of strings the random punches are made of: Korean, empty, JSON's
// special characters, control characters, invalid UTF-8, HTML characters,
// line separators.
var pieces = []string{"", "김민수", "출근", "정문 1층", "ＡＢＣ", "a", "1230001", `"`, `\`, `\"`, "\n", "\r\t", "\x00", "\x1f", "\x7f",
	"<", ">", "&", "\u2028", "\u2029", "\xff", "\xc3", "\xed\xa0\x80", "\xed\x9f\xbf", "\xea\x80", "\xea\xb0\x80", "\xe2\x80\xa8", "😀", "/", "card:", " ", "null", "{}", ",", ":"}

func randString(r *rand.Rand) string {
	var sb strings.Builder
	for range r.IntN(4) {
		sb.WriteString(pieces[r.IntN(len(pieces))])
	}
	return sb.String()
}

// randPunch is a punch with random field values; plain ones look like what
// the parsers emit (no escapes needed).
func randPunch(r *rand.Rand, plain bool) attendance.Punch {
	s := func(def string) string {
		if plain {
			return def
		}
		return randString(r)
	}
	zones := []*time.Location{time.UTC, time.FixedZone("KST", 9*3600), time.FixedZone("", -(3*3600 + 30*60)), time.Local}
	p := attendance.Punch{
		EventID: s("0123456789abcdef0123456789abcdef"), Vendor: s("adtcaps"), Layout: s("caps-event-txt"), Site: s("hq"),
		OccurredAt: time.Date(2000+r.IntN(60), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60),
			[]int{0, 0, 500_000_000, r.IntN(1e9)}[r.IntN(4)], zones[r.IntN(len(zones))]),
		EmployeeNo: s([]string{"1230001", "", "00042"}[r.IntN(3)]), Name: s([]string{"김민수", "", "이 서연", "John O'Neil"}[r.IntN(4)]),
		CardMasked: s("****1234"), Mode: attendance.Mode(s([]string{"in", "out", "pass", ""}[r.IntN(4)])), RawMode: s("출근"),
		Device: s([]string{"정문", "", "B1 주차장"}[r.IntN(3)]), AuthOK: r.IntN(2) == 0,
		SourceFile: s("/data/drops/hq/caps_events_20250101_0828.txt"), SourceLine: []int{0, 1, 42, r.IntN(1 << 30), -7, 1<<62 + 5, math.MaxInt64, math.MinInt64}[r.IntN(8)],
	}
	if r.IntN(2) == 0 {
		p.CardHash = s(strings.Repeat("ab", 32))
	}
	return p
}

// appendPunch writes exactly what encoding/json writes, for many random
// punches (Korean text, empty fields, quotes, backslashes, control
// characters, invalid UTF-8, HTML characters, U+2028/9, any zone).
func TestAppendPunchMatchesEncodingJSONRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		p := randPunch(r, i%4 == 0)
		want, err := json.Marshal(&p)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendPunch(nil, &p); string(got) != string(want) {
			t.Fatalf("punch %d %#v:\n got %s\nwant %s", i, p, got, want)
		}
	}
}

// Decode gives what json.Unmarshal gives, for what appendPunch writes and
// for variations of it, and takes the fast path for the parsers' punches.
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var d PunchDecoder
	fast := 0
	for i := range 20000 {
		p := randPunch(r, i%2 == 0)
		doc := appendPunch(nil, &p)
		docs := [][]byte{doc}
		if i%10 == 0 { // variations the fast path must leave to encoding/json
			docs = append(docs,
				[]byte(strings.Replace(string(doc), `{"event_id"`, `{ "event_id"`, 1)),
				[]byte(strings.Replace(string(doc), `"vendor"`, `"Vendor"`, 1)),
				[]byte(strings.Replace(string(doc), `"source_line":`, `"source_line":1e2,"x":`, 1)),
				[]byte(strings.Replace(string(doc), `"source_line":`, `"source_line":0`, 1)),
				[]byte(strings.Replace(string(doc), `"auth_ok":`, `"auth_ok":null,"auth_ok":`, 1)),
				[]byte(strings.Replace(string(doc), `"occurred_at":"`, `"occurred_at":"x`, 1)),
				[]byte(strings.Replace(string(doc), `"name":`, `"name":null,"zz":`, 1)),
				append(append([]byte(nil), doc...), ' '),
				append(append([]byte(nil), doc...), '}'),
				doc[:len(doc)-1],
				[]byte(`{"source_line":3,"event_id":"x"}`),
				[]byte(`{"source_line":99999999999999999999}`),
				[]byte(`null`),
			)
		}
		for _, b := range docs {
			var want, got attendance.Punch
			werr := json.Unmarshal(b, &want)
			gerr := d.Decode(b, &got)
			if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
				t.Fatalf("%s:\nencoding/json error %v, Decode error %v", b, werr, gerr)
			}
			if !reflect.DeepEqual(want, got) {
				t.Fatalf("%s:\nencoding/json %#v\n       Decode %#v", b, want, got)
			}
		}
		if i%2 == 0 {
			var q attendance.Punch
			if !d.fast(doc, &q) {
				t.Fatalf("fast path not taken for a parser-like punch: %s", doc)
			}
			fast++
		}
	}
	if fast == 0 {
		t.Fatal("no fast decodes")
	}
}

// FuzzDecode: any input decodes as encoding/json decodes it.
func FuzzDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 20 {
		p := randPunch(r, i%2 == 0)
		f.Add(appendPunch(nil, &p))
	}
	f.Add([]byte(`{"event_id":"a","source_line":-0}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var d PunchDecoder
		var want, got attendance.Punch
		werr := json.Unmarshal(b, &want)
		gerr := d.Decode(b, &got)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%q: encoding/json error %v, Decode error %v", b, werr, gerr)
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("%q:\nencoding/json %#v\n       Decode %#v", b, want, got)
		}
	})
}

func BenchmarkDecodePunch(b *testing.B) {
	p := attendance.Punch{
		EventID: "0123456789abcdef0123456789abcdef", Vendor: "telecop", Layout: "telecop-report-csv", Site: "hq",
		OccurredAt: time.Date(2024, 1, 5, 8, 51, 2, 0, time.FixedZone("KST", 9*3600)), EmployeeNo: "1230001", Name: "김민수",
		CardMasked: "****1234", Mode: attendance.ModeIn, RawMode: "출근", Device: "정문", AuthOK: true, SourceFile: "/data/drops/report.csv", SourceLine: 42,
	}
	doc := appendPunch(nil, &p)
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var q attendance.Punch
			json.Unmarshal(doc, &q)
		}
	})
	b.Run("PunchDecoder", func(b *testing.B) {
		var d PunchDecoder
		var q attendance.Punch
		for b.Loop() {
			d.Decode(doc, &q)
		}
	})
}

// plainString agrees with a byte-by-byte check on random strings of every
// length, with the odd byte anywhere in an eight-byte word.
func TestPlainString(t *testing.T) {
	ref := func(s []byte) bool {
		for _, c := range s {
			if c == '\\' || c < 0x20 {
				return false
			}
		}
		return utf8.Valid(s)
	}
	r := rand.New(rand.NewPCG(11, 12))
	odd := []byte{0, 0x1f, 0x20, '\\', '"', 0x7f, 0x80, 0xc3, 0xea, 0xed, 0xff, '[', '\\' ^ 0x80}
	for range 200000 {
		s := make([]byte, r.IntN(40))
		for i := range s {
			s[i] = byte('a' + r.IntN(26))
		}
		for range r.IntN(3) {
			if len(s) > 0 {
				s[r.IntN(len(s))] = odd[r.IntN(len(odd))]
			}
		}
		if r.IntN(4) == 0 {
			s = append(s, "김민수"...)
		}
		if got, want := plainString(s), ref(s); got != want {
			t.Fatalf("plainString(%q) = %v, want %v", s, got, want)
		}
	}
}
