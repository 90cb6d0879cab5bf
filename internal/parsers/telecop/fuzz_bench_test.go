package telecop

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
	"golang.org/x/text/encoding/korean"
)

func fuzzLayout(f *testing.F, name string, seeds ...string) {
	for _, s := range seeds {
		raw, err := os.ReadFile(filepath.Join("testdata", s))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	l := layout(f, name)
	f.Fuzz(func(t *testing.T, raw []byte) {
		text, _, err := parsekit.DecodeText(bytes.NewReader(raw))
		if err != nil {
			return // not text: the registry's business
		}
		c := &collect{}
		if err := l.Parse(text, parsekit.Options{Site: "lab", File: "fuzz"}, c); err != nil && !parsekit.IsFileError(err) {
			t.Fatalf("non-file error: %v", err)
		}
		checkInvariants(t, c)
	})
}

func FuzzWorkResultCSV(f *testing.F) {
	fuzzLayout(f, layoutCSV, "tb_workresult_20240105.csv", "tb_workresult_20240108.csv")
}

func FuzzWorkResultXML(f *testing.F) {
	fuzzLayout(f, layoutXML, "tb_workresult_20240105.xml", "tb_workresult_20240108.xml")
}

func FuzzReport(f *testing.F) {
	fuzzLayout(f, layoutReport, "출입기록_202401.csv")
}

type counter struct{ punches, rejects int }

func (c *counter) Punch(attendance.Punch) error   { c.punches++; return nil }
func (c *counter) Reject(attendance.Reject) error { c.rejects++; return nil }

func bench(b *testing.B, name string, data []byte, rows int) {
	l := layout(b, name)
	opt := parsekit.Options{Site: "lab", File: "bench"}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		text, _, err := parsekit.DecodeText(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		var c counter
		if err := l.Parse(text, opt, &c); err != nil {
			b.Fatal(err)
		}
		if c.rejects != 0 || c.punches != rows {
			b.Fatalf("punches %d rejects %d", c.punches, c.rejects)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

var (
	names  = []string{"김민수", "이재영", "박지훈", "최유진", "정하늘", "남궁민호"}
	modes  = []string{"출근", "퇴근", "출입"}
	places = []string{"정문", "연구1층출입문내부", "테크1층차고지외부"}
)

const benchRows = 100_000

// stamp i as Korean 12-hour time on 2024-01-05.
func stamp(i int) (string, int, int, int) {
	h, m, s := i%24, (i/24)%60, (i/7)%60
	return "2024-01-05", h, m, s
}

func ampm(h int) (string, int) {
	a := "오전"
	if h >= 12 {
		a = "오후"
	}
	if h%12 == 0 {
		return a, 12
	}
	return a, h % 12
}

func cp949(b *testing.B, s string) []byte {
	data, err := korean.EUCKR.NewEncoder().Bytes([]byte(s))
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkWorkResultCSV: 100k rows in CP949, as KTT_FPReader copies arrive.
func BenchmarkWorkResultCSV(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("date_Attestation,str_Week,str_workempNum,str_workempName,str_Mode,str_accTerminalPlace,str_ValidationStatus\r\n")
	for i := range benchRows {
		d, h, m, s := stamp(i)
		a, h12 := ampm(h)
		fmt.Fprintf(&sb, "%s %s %d:%02d:%02d,금,%d,%s,%s,%s,성공\r\n", d, a, h12, m, s, 1230000+i%5000, names[i%len(names)], modes[i%3], places[i%3])
	}
	bench(b, layoutCSV, cp949(b, sb.String()), benchRows)
}

// BenchmarkWorkResultXML: 100k records of a DataSet export in CP949.
func BenchmarkWorkResultXML(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("<?xml version=\"1.0\" encoding=\"euc-kr\" standalone=\"yes\"?>\r\n<NewDataSet>\r\n")
	for i := range benchRows {
		d, h, m, s := stamp(i)
		a, h12 := ampm(h)
		fmt.Fprintf(&sb, "  <tb_workresult>\r\n    <date_Attestation>%s %s %d:%02d:%02d</date_Attestation>\r\n    <str_Week>금</str_Week>\r\n    <str_workempNum>%d</str_workempNum>\r\n    <str_workempName>%s</str_workempName>\r\n    <str_Mode>%s</str_Mode>\r\n    <str_accTerminalPlace>%s</str_accTerminalPlace>\r\n    <str_ValidationStatus>성공</str_ValidationStatus>\r\n  </tb_workresult>\r\n",
			d, a, h12, m, s, 1230000+i%5000, names[i%len(names)], modes[i%3], places[i%3])
	}
	sb.WriteString("</NewDataSet>\r\n")
	bench(b, layoutXML, cp949(b, sb.String()), benchRows)
}

// BenchmarkReport: 100k rows of the Excel report, UTF-8 with BOM, with a preamble.
func BenchmarkReport(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("\ufeff출입기록 보고서,,,,\r\n기간: 2024-01-01 ~ 2024-01-31,,,,\r\n,,,,\r\n인증일시,요일,사원번호,이름,인증모드\r\n")
	for i := range benchRows {
		d, h, m, s := stamp(i)
		fmt.Fprintf(&sb, "%s %02d:%02d:%02d,금,%d,%s,%s\r\n", d, h, m, s, 1230000+i%5000, names[i%len(names)], modes[i%3])
	}
	bench(b, layoutReport, []byte(sb.String()), benchRows)
}

// FuzzTimeCache: the cached koreanAMPM and isoDateTime give exactly
// parsekit.KoreanAMPM's and ISODateTime's time or error, whatever came
// before.
func FuzzTimeCache(f *testing.F) {
	f.Add("2024-01-05 오전 8:51:02", "2024-01-05 오후 12:00:00", "2024-01-06 오전 12:30:59")
	f.Add("2024-02-30 오후 1:00:00", "2024-01-05 PM 1:00:00", "2024-01-05 오전 13:00:00")
	f.Add("2024-01-05 08:51:02", "2024-01-05 23:59:60", "2024-1-5 8:51")
	f.Add("2024-01-05 오후 1:60:00", "1899-12-31 오전 1:00:00", "2024-01-05  오전 1:00:00")
	loc := parsekit.Seoul()
	f.Fuzz(func(t *testing.T, a, b, c string) {
		var days dayCaches
		for _, s := range []string{a, b, c, a, b} {
			got, gotErr := days.koreanAMPM(s, loc)
			want, wantErr := parsekit.KoreanAMPM(s, loc)
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !got.Equal(want) || got.String() != want.String() {
				t.Fatalf("koreanAMPM %q: %v %v, KoreanAMPM %v %v", s, got, gotErr, want, wantErr)
			}
			got, gotErr = days.isoDateTime(s, loc)
			want, wantErr = parsekit.ISODateTime(s, loc)
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !got.Equal(want) || got.String() != want.String() {
				t.Fatalf("isoDateTime %q: %v %v, ISODateTime %v %v", s, got, gotErr, want, wantErr)
			}
		}
	})
}
