package report

import (
	"bytes"
	"strings"
	"testing"
)

func sample() *Table {
	return &Table{
		Name:    "x",
		Columns: []string{"site", "name", "hours", "days", "over", "note"},
		Rows: [][]any{
			{"seoul", "김철수", 41.5, int64(5), false, nil},
			{"busan-2", "Lee", 53.25, int64(6), true, "a,\"b\"\nc"},
		},
	}
}

func TestWriteFormats(t *testing.T) {
	tests := []struct {
		format string
		want   string
	}{
		{"table", "" +
			"site     name    hours  days  over  note\n" +
			"-------  ------  -----  ----  ----  -------\n" +
			"seoul    김철수  41.50     5  no\n" +
			"busan-2  Lee     53.25     6  yes   a,\"b\" c\n" +
			"(2 rows)\n"},
		{"csv", "" +
			"site,name,hours,days,over,note\n" +
			"seoul,김철수,41.50,5,false,\n" +
			"busan-2,Lee,53.25,6,true,\"a,\"\"b\"\"\nc\"\n"},
		{"json", "" +
			"[\n" +
			"  {\"site\": \"seoul\", \"name\": \"김철수\", \"hours\": 41.5, \"days\": 5, \"over\": false, \"note\": null},\n" +
			"  {\"site\": \"busan-2\", \"name\": \"Lee\", \"hours\": 53.25, \"days\": 6, \"over\": true, \"note\": \"a,\\\"b\\\"\\nc\"}\n" +
			"]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, sample(), tt.format); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
}

func TestWriteEmptyAndUnknown(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, &Table{Columns: []string{"a"}}, "json"); err != nil || b.String() != "[]\n" {
		t.Errorf("empty json = %q, %v", b.String(), err)
	}
	if err := Write(&b, sample(), "xml"); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestWidth(t *testing.T) {
	for s, want := range map[string]int{"": 0, "abc": 3, "김철수": 6, "A동 출입문": 10, "ｱ": 1, "Ａ": 2} {
		if got := width(s); got != want {
			t.Errorf("width(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, report     string
		p                Params
		wantFrom, wantTo string
		wantLate         int64
		wantErr          string
	}{
		{"defaults", "daily", Params{From: "2024-01-01", To: "2024-01-31"}, "2024-01-01", "2024-01-31", 9 * 3600, ""},
		{"late seconds", "late", Params{From: "2024-01-01", To: "2024-01-01", LateAfter: "08:30:15"}, "2024-01-01", "2024-01-01", 8*3600 + 30*60 + 15, ""},
		// 2024-01-03 is a Wednesday, 2024-01-31 a Wednesday: widen to Mon 01-01 .. Sun 02-04.
		{"weeks widened", "weekly-hours", Params{From: "2024-01-03", To: "2024-01-31"}, "2024-01-01", "2024-02-04", 9 * 3600, ""},
		{"week already whole", "weekly-hours", Params{From: "2024-01-01", To: "2024-01-07"}, "2024-01-01", "2024-01-07", 9 * 3600, ""},
		{"bad from", "daily", Params{From: "2024/01/01", To: "2024-01-31"}, "", "", 0, "--from"},
		{"reversed", "daily", Params{From: "2024-02-01", To: "2024-01-31"}, "", "", 0, "before"},
		{"bad late", "late", Params{From: "2024-01-01", To: "2024-01-31", LateAfter: "9am"}, "", "", 0, "--late-after"},
		{"bad late until", "late", Params{From: "2024-01-01", To: "2024-01-31", LateUntil: "6pm"}, "", "", 0, "--late-until"},
		{"until before after", "late", Params{From: "2024-01-01", To: "2024-01-31", LateAfter: "10:00", LateUntil: "09:00"}, "", "", 0, "not after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, b, err := normalize(tt.report, tt.p)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.From != tt.wantFrom || p.To != tt.wantTo || b.lateSecs != tt.wantLate || b.lateUntilSecs != 18*3600 {
				t.Errorf("got %s..%s late %d until %d, want %s..%s late %d until 18:00", p.From, p.To, b.lateSecs, b.lateUntilSecs, tt.wantFrom, tt.wantTo, tt.wantLate)
			}
		})
	}
}

func TestSQLPlaceholders(t *testing.T) {
	for _, n := range Names() {
		q, err := SQL(n, "att")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(q, "{db}") || !strings.Contains(q, "att.") {
			t.Errorf("%s: database not substituted", n)
		}
		if !strings.Contains(q, "FINAL") {
			t.Errorf("%s: reads without FINAL would count duplicates before merges", n)
		}
	}
	if _, err := SQL("payroll", "att"); err == nil {
		t.Error("unknown report accepted")
	}
}
