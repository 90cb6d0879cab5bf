package secom

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
	"github.com/gocarina/gocsv"
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
		c, err := run(t, l, "fuzz.csv", raw)
		if err != nil && !parsekit.IsFileError(err) && err != parsekit.ErrNotText && !bytes.Contains([]byte(err.Error()), []byte("not a text file")) {
			t.Fatalf("non-file error: %v", err)
		}
		if c != nil {
			checkInvariants(t, raw, c)
		}
	})
}

func FuzzAlarm(f *testing.F) {
	fuzzLayout(f, layoutAlarm, "T_SECOM_ALARM_20240105.csv", "T_SECOM_ALARM_20240106.csv")
}

func FuzzWorkHistory(f *testing.F) {
	fuzzLayout(f, layoutWorkHist, "secom_workhistory_202401.csv")
}

type counter struct{ punches, rejects int }

func (c *counter) Punch(attendance.Punch) error   { c.punches++; return nil }
func (c *counter) Reject(attendance.Reject) error { c.rejects++; return nil }

// bench parses data (decoded like the registry does) and reports rows/s.
func bench(b *testing.B, name string, data []byte, rows int) {
	l := layout(b, name)
	opt := parsekit.Options{Site: "factory", File: "bench.csv", CardKey: []byte("k")}
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
		if c.rejects != 0 || c.punches == 0 {
			b.Fatalf("punches %d rejects %d", c.punches, c.rejects)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

var names = []string{"김민수", "이서연", "박지훈", "최유진", "정하늘", "강동원", "한지민", "윤아름"}

// BenchmarkAlarm: 100k tags of a UTF-8 MySQL copy (how T_SECOM_ALARM arrives).
func BenchmarkAlarm(b *testing.B) {
	bench(b, layoutAlarm, alarmData(100_000), 100_000)
}

// BenchmarkWorkHistory: 100k daily rows (200k punches) in CP949.
func BenchmarkWorkHistory(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString(workHeader + "\r\n")
	const n = 100_000
	for i := range n {
		day := fmt.Sprintf("202401%02d", 1+i%28)
		fmt.Fprintf(&buf, "%s,1600%08d,%s,010%010d,%s08%02d%02d,%s18%02d%02d,1,1,0,0,%s235959\r\n",
			day, i%5000, names[i%len(names)], 9338254950+i%5000, day, i%60, (i/3)%60, day, (i/7)%60, i%60, day)
	}
	data, err := korean.EUCKR.NewEncoder().Bytes(buf.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	bench(b, layoutWorkHist, data, n)
}

func alarmData(n int) []byte {
	var buf bytes.Buffer
	buf.WriteString(alarmHeader + "\r\n")
	for i := range n {
		stamp := fmt.Sprintf("20240105%02d%02d%02d", 7+i%12, i%60, (i/7)%60)
		fmt.Fprintf(&buf, "%s,%d,%d,2,0,0,,,,0,0,010%010d,%s,W,%d,0,0,0,%s,%s,9.0.1,1600%08d\r\n",
			stamp, 40000+i, 1000+i%4, 9338254950+i%5000, names[i%len(names)], []int{0, 1, 4}[i%3], stamp, stamp, i%5000)
	}
	return buf.Bytes()
}

// The two row-mapping paths alone (no punch building), on the same rows:
// a bare gocsv Unmarshaller over the whole input (no line or field limits,
// no structure checks, no trimming) versus parsekit.CSVRows, which reads
// through its bounded feed, checks and trims each record, then maps it with
// its own per-call gocsv Unmarshaller (only the bound columns are replayed to
// gocsv). The difference is the price of the guarantees.
func BenchmarkRowsGocsv(b *testing.B) {
	data := alarmData(100_000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		cr := csv.NewReader(bytes.NewReader(data))
		cr.ReuseRecord, cr.FieldsPerRecord, cr.LazyQuotes = true, -1, true
		um, err := gocsv.NewUnmarshaller(cr, alarmRow{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			v, err := um.Read()
			if err != nil {
				break
			}
			n += len(v.(alarmRow).ATime)
		}
	}
	b.ReportMetric(100_000*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkRowsCSVRows(b *testing.B) {
	data := alarmData(100_000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rows, err := parsekit.NewCSVRows[alarmRow](bytes.NewReader(data), parsekit.Options{}, 0)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rows.Next() {
			n += len(rows.Row().ATime)
		}
	}
	b.ReportMetric(100_000*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// FuzzStamp14Cache: the day-cached stamp14 and date give exactly
// parsekit.Stamp14's and DateAndTime's time or error, whatever stamps came
// before.
func FuzzStamp14Cache(f *testing.F) {
	f.Add("20240105081203", "20240105235959", "20240106000000")
	f.Add("20240229120000", "20230229120000", "2024010508120x")
	f.Add("20240105081260", "20241305081203", "1899123123595")
	f.Add("20240205081203", "20240105", "2024020")
	loc := parsekit.Seoul()
	f.Fuzz(func(t *testing.T, a, b, c string) {
		var days dayCaches
		for _, s := range []string{a, b, c, a, b} {
			got, gotErr := days.stamp14(s, loc)
			want, wantErr := parsekit.Stamp14(s, loc)
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !got.Equal(want) || got.Location() != want.Location() || got.String() != want.String() {
				t.Fatalf("%q: %v %v, Stamp14 %v %v", s, got, gotErr, want, wantErr)
			}
			_, wantErr = parsekit.DateAndTime(s, "000000", loc)
			if gotErr := days.date(s, loc); fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				t.Fatalf("date %q: %v, DateAndTime %v", s, gotErr, wantErr)
			}
		}
	})
}
