package telecop

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// collect is an Emitter that keeps everything, and the NDJSON of it in order.
type collect struct {
	punches []attendance.Punch
	rejects []attendance.Reject
	out     bytes.Buffer
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

func decode(t testing.TB, raw []byte) io.Reader {
	text, _, err := parsekit.DecodeText(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func checkInvariants(t testing.TB, c *collect) {
	t.Helper()
	for _, p := range c.punches {
		if !p.Mode.Valid() || p.OccurredAt.IsZero() || p.SourceLine < 1 || p.EventID == "" || p.CardMasked != "" {
			t.Errorf("bad punch %+v", p)
		}
	}
	for _, r := range c.rejects {
		if r.Line < 1 || r.Reason == "" {
			t.Errorf("bad reject %+v", r)
		}
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct{ file, layout string }{
		{"tb_workresult_20240105.csv", layoutCSV},
		{"tb_workresult_20240108.csv", layoutCSV},
		{"tb_workresult_20240105.xml", layoutXML},
		{"tb_workresult_20240108.xml", layoutXML}, // cut off mid-record
		{"출입기록_202401.csv", layoutReport},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			l := layout(t, tc.layout)
			h := make([]byte, 8<<10)
			n, _ := io.ReadFull(decode(t, raw), h)
			for _, o := range Layouts() {
				if got := o.Sniff(string(h[:n])); got != (o.Name == tc.layout) {
					t.Errorf("%s.Sniff(%s) = %v", o.Name, tc.file, got)
				}
			}
			if !l.FileHint(tc.file) {
				t.Errorf("%s.FileHint(%q) = false", tc.layout, tc.file)
			}
			c := &collect{}
			opt := parsekit.Options{Site: "lab", File: tc.file}
			if err := l.Parse(decode(t, raw), opt, c); err != nil {
				if !parsekit.IsFileError(err) {
					t.Fatalf("parse: %v", err)
				}
				c.line("file_error", err.Error())
			}
			checkInvariants(t, c)
			golden := filepath.Join("testdata", tc.file+".golden")
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

func TestSniffOthers(t *testing.T) {
	others := map[string]string{
		"caps-tenter": "E_DATE,E_TIME,G_ID,E_ID,E_NAME,E_IDNO,E_CARD,E_GROUP,E_MODE,E_TYPE,E_RESULT\n20240105,85102,4000,17,김민수,0001,0109123456780,1,1,1,0\n",
		"caps-event":  "0851020001김민수10000000000000000320240105085102\r\n0907040001이재영50000000000000000520240105090704\r\n",
		"caps-ovrwrk": "17\t연구소\t선임\t1\t0001\t김민수\t20240105\t평일\t085102\t183015\t\t\t0\t0\t0030\t0\t0930\t0900\r\n",
		"secom-alarm": "ATime,ID,EqCode,Master,Param,Ack,AckUser,AckTime,AckContent,Transfer,AckMode,CardNo,Name,State,Flag1,Flag2,Flag3,Flag4,InsertTime,UpdateTime,Version,Sabun\n",
		"secom-work":  "WorkDate,Sabun,Name,CardNo,WSTime,WCTime,bWS,bWC,bLate,bAbsent,InsertTime\n",
		"other-xml":   `<?xml version="1.0"?><NewDataSet><tb_user><id>1</id></tb_user></NewDataSet>`,
		"deep-report": strings.Repeat("제목,,,,\n", 11) + "인증일시,요일,사원번호,이름,인증모드\n",
	}
	for _, l := range Layouts() {
		for name, h := range others {
			if l.Sniff(h) {
				t.Errorf("%s.Sniff(%s head) = true", l.Name, name)
			}
		}
	}
}

// TestRules pins the rules that are easy to get subtly wrong.
func TestRules(t *testing.T) {
	const H = "date_Attestation,str_Week,str_workempNum,str_workempName,str_Mode,str_accTerminalPlace,str_ValidationStatus\n"
	for _, tc := range []struct {
		name, layout, text string
		want               []string // mode raw_mode occurred_at employee_no name device auth_ok
		rejects            []string
		fileErr            string
	}{
		{
			name: "12-hour clock", layout: layoutCSV,
			text: H + "2024-01-05 오전 12:05:10,금,1230084,김민수,퇴근,정문,성공\n" +
				"2024-01-05 오후 12:00:00,금,1230084,김민수,출입,정문,성공\n" +
				"2024-01-05 오후 6:02:11,금,0084,김민수,출근,정문,실패\n" +
				"2024-01-05 오전 0:10:00,금,1230084,김민수,출근,정문,성공\n",
			want: []string{
				"out 퇴근 2024-01-05T00:05:10+09:00 1230084 김민수 정문 true",
				"pass 출입 2024-01-05T12:00:00+09:00 1230084 김민수 정문 true",
				"in 출근 2024-01-05T18:02:11+09:00 0084 김민수 정문 false",
			},
			rejects: []string{"hour 0 out of 1..12"},
		},
		{
			name: "header lacks a column", layout: layoutCSV,
			text:    strings.Replace(H, ",str_Mode", "", 1) + "2024-01-05 오전 8:05:10,금,1,김,정문,성공\n",
			fileErr: "lacks column(s) str_Mode",
		},
		{
			name: "report: wrapped names, continuation first", layout: layoutReport,
			text: "제목\n인증일시,요일,사원번호,이름,인증모드\n,,,민호,\n" +
				"2024-01-02 09:03,화,4410021,남궁,출근\n,,,민호,\n,,,수,\n2024-01-02 09:04,화,4410022,이,출근\n",
			want: []string{
				"in 출근 2024-01-02T09:03:00+09:00 4410021 남궁민호수  true",
				"in 출근 2024-01-02T09:04:00+09:00 4410022 이  true",
			},
			rejects: []string{"name continuation row with no punch row above it"},
		},
		{
			name: "report: header too deep", layout: layoutReport,
			text:    strings.Repeat("제목,,,,\n", 11) + "인증일시,요일,사원번호,이름,인증모드\n2024-01-02 09:03,화,1,김,출근\n",
			fileErr: "no header row",
		},
		{
			name: "xml: wrong root", layout: layoutXML,
			text:    `<?xml version="1.0"?><DocumentElement><tb_workresult/></DocumentElement>`,
			fileErr: "root element <DocumentElement>",
		},
		{
			name: "xml: unsupported declared encoding", layout: layoutXML,
			text:    `<?xml version="1.0" encoding="shift_jis"?><NewDataSet></NewDataSet>`,
			fileErr: "shift_jis",
		},
		{
			name: "xml: giant text node", layout: layoutXML,
			text:    "<NewDataSet><tb_workresult><str_Week>" + strings.Repeat("x", 70<<10) + "</str_Week></tb_workresult></NewDataSet>",
			fileErr: "line 1: broken XML in record 1",
		},
		{
			name: "xml: syntax error after two records", layout: layoutXML,
			text: "<NewDataSet><tb_workresult><date_Attestation>2024-01-05 오전 8:00:00</date_Attestation></tb_workresult>" +
				"<tb_workresult><date_Attestation>bad</date_Attestation></tb_workresult><tb_workresult></NewDataSet>",
			want:    []string{"unknown  2024-01-05T08:00:00+09:00    false"},
			rejects: []string{`date_Attestation: time "bad"`},
			fileErr: "line 3: broken XML in record 3",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &collect{}
			err := layout(t, tc.layout).Parse(strings.NewReader(tc.text), parsekit.Options{Site: "lab", File: "t"}, c)
			if tc.fileErr != "" {
				var fe *parsekit.FileError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.fileErr) {
					t.Fatalf("err = %v, want FileError containing %q", err, tc.fileErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, c)
			var got []string
			for _, p := range c.punches {
				got = append(got, strings.Join([]string{string(p.Mode), p.RawMode, p.OccurredAt.Format("2006-01-02T15:04:05Z07:00"), p.EmployeeNo, p.Name, p.Device, map[bool]string{true: "true", false: "false"}[p.AuthOK]}, " "))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("punches:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if len(c.rejects) != len(tc.rejects) {
				t.Fatalf("rejects = %+v, want %d", c.rejects, len(tc.rejects))
			}
			for i, r := range c.rejects {
				if !strings.Contains(r.Reason, tc.rejects[i]) {
					t.Errorf("reject %d reason %q, want %q", i, r.Reason, tc.rejects[i])
				}
			}
		})
	}
}
