package publish

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

// appendPunch must write exactly what encoding/json writes, for every field
// of attendance.Punch.
func TestAppendPunchMatchesEncodingJSON(t *testing.T) {
	var tags []string
	ty := reflect.TypeFor[attendance.Punch]()
	for i := 0; i < ty.NumField(); i++ {
		tags = append(tags, strings.Split(ty.Field(i).Tag.Get("json"), ",")[0])
	}
	if !reflect.DeepEqual(tags, punchFields) {
		t.Fatalf("attendance.Punch fields %v, appendPunch writes %v: update encode.go", tags, punchFields)
	}
	kst := time.FixedZone("KST", 9*3600)
	weird := []string{"", "김민수", `a"b\c`, "tab\there\nnl\r\b\f\x00\x1f", "<script>&amp;</script>", "bad\xffutf8\xc3", "line\u2028sep\u2029", "😀 emoji", "\x7f del"}
	base := attendance.Punch{
		EventID: "0123456789abcdef0123456789abcdef", Vendor: "telecop", Layout: "telecop-report-csv", Site: "hq",
		OccurredAt: time.Date(2024, 1, 5, 8, 51, 2, 0, kst), EmployeeNo: "1230001", Name: "김민수",
		CardMasked: "****1234", Mode: attendance.ModeIn, RawMode: "출근", Device: "정문", AuthOK: true,
		SourceFile: "/data/drops/report.csv", SourceLine: 42,
	}
	cases := []attendance.Punch{base}
	for _, w := range weird {
		p := base
		p.Name, p.Device, p.RawMode, p.SourceFile, p.EmployeeNo = w, w, w, w, w
		cases = append(cases, p)
	}
	p := base
	p.CardHash = strings.Repeat("ab", 32)
	p.AuthOK = false
	p.SourceLine = 1
	p.OccurredAt = time.Date(2024, 12, 31, 23, 59, 59, 500_000_000, time.UTC)
	cases = append(cases, p)
	for i, c := range cases {
		want, err := json.Marshal(&c)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendPunch(nil, &c); string(got) != string(want) {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got, want)
		}
		for _, k := range []attendance.Punch{c, {Site: c.Site, CardHash: c.CardHash, CardMasked: "****9"}, {Site: "lab", CardMasked: "****1"}} {
			if got := appendPartitionKey([]byte("x"), &k); string(got) != "x"+k.PartitionKey() {
				t.Fatalf("case %d: key %q, PartitionKey %q", i, got[1:], k.PartitionKey())
			}
		}
	}
}

func BenchmarkEncodePunch(b *testing.B) {
	p := attendance.Punch{
		EventID: "0123456789abcdef0123456789abcdef", Vendor: "telecop", Layout: "telecop-report-csv", Site: "hq",
		OccurredAt: time.Date(2024, 1, 5, 8, 51, 2, 0, time.FixedZone("KST", 9*3600)), EmployeeNo: "1230001", Name: "김민수",
		Mode: attendance.ModeIn, RawMode: "출근", AuthOK: true, SourceFile: "/data/drops/report.csv", SourceLine: 42,
	}
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(&p)
		}
	})
	b.Run("appendPunch", func(b *testing.B) {
		for b.Loop() {
			appendPunch(make([]byte, 0, 384), &p)
		}
	})
}

// What the arena hands out is never overwritten: messages of any size,
// carved one after another, keep their bytes.
func TestArenaKeepsMessages(t *testing.T) {
	var a arena
	r := rand.New(rand.NewPCG(9, 10))
	type held struct {
		b    []byte
		want string
	}
	var all []held
	for i := range 5000 {
		n := r.IntN(600)
		if i%97 == 0 {
			n = 3000 + r.IntN(70000) // longer than the room kept, or than a block
		}
		b := a.buf()
		for j := range n {
			b = append(b, byte('a'+(i+j)%26))
		}
		a.used(b)
		all = append(all, held{b: b, want: string(b)})
	}
	for i, m := range all {
		if string(m.b) != m.want {
			t.Fatalf("message %d overwritten", i)
		}
	}
}
