package secom

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

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
	opt := parsekit.Options{Site: "factory", File: file, CardKey: []byte("test-key")}
	return c, l.Parse(text, opt, c)
}

// cardRE finds the raw cards in fixtures: 010 mobile cards and the hex one,
// as whole tokens (not the inside of a longer stamp such as 20100000000000).
var cardRE = regexp.MustCompile(`\b(010[0-9]{10}|01[0-9a-fA-F]{11})\b`)

// checkInvariants asserts what must hold for any input.
func checkInvariants(t testing.TB, input []byte, c *collect) {
	t.Helper()
	// Sabun, Name, Flag1 and EqCode are kept as written, so a card-like value
	// there is not the card (fuzzed headers move columns around).
	var ob strings.Builder
	for _, p := range c.punches {
		p.EmployeeNo, p.Name, p.RawMode, p.Device = "", "", "", ""
		b, _ := json.Marshal(p)
		ob.Write(b)
	}
	for _, r := range c.rejects {
		b, _ := json.Marshal(r)
		ob.Write(b)
	}
	out := ob.String()
	leaked := map[string]bool{}
	for _, m := range cardRE.FindAllStringSubmatch(out, -1) {
		leaked[strings.ToUpper(m[1])] = true
	}
	for _, m := range cardRE.FindAllStringSubmatch(string(input), -1) {
		if leaked[strings.ToUpper(m[1])] {
			t.Errorf("raw card %s leaked into output", m[1])
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

func TestGolden(t *testing.T) {
	for _, tc := range []struct{ file, layout string }{
		{"T_SECOM_ALARM_20240105.csv", layoutAlarm},
		{"T_SECOM_ALARM_20240106.csv", layoutAlarm},
		{"secom_workhistory_202401.csv", layoutWorkHist},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			l := layout(t, tc.layout)
			if !l.Sniff(head(t, raw)) {
				t.Errorf("%s does not sniff its own fixture", tc.layout)
			}
			c, err := run(t, l, tc.file, raw)
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

const (
	alarmHeader = "ATime,ID,EqCode,Master,Param,Ack,AckUser,AckTime,AckContent,Transfer,AckMode,CardNo,Name,State,Flag1,Flag2,Flag3,Flag4,InsertTime,UpdateTime,Version,Sabun"
	workHeader  = "WorkDate,Sabun,Name,CardNo,WSTime,WCTime,bWS,bWC,bLate,bAbsent,InsertTime"
	alarmRow1   = "20240105075640,48202,1000,2,0,0,,,,0,0,0109338254950,김민수,W,1,0,0,0,20240105075640,20240105075640,9.0.1,160000012345"
)

func TestSniff(t *testing.T) {
	heads := map[string]string{
		"secom-alarm":       alarmHeader + "\r\n" + alarmRow1 + "\r\n",
		"secom-workhistory": workHeader + "\n20240102,KS2203002,이서연,0105588245987,20240102091502,,1,0,1,0,20240102235959\n",
		"caps-tenter":       "E_DATE,E_TIME,G_ID,E_ID,E_NAME,E_IDNO,E_CARD,E_GROUP,E_MODE,E_TYPE,E_RESULT\n20240105,85102,4000,17,김민수,0001,0109123456780,1,1,1,0\n",
		"caps-event":        "0851020001김민수10000000000000000320240105085102\r\n0907040001이재영50000000000000000520240105090704\r\n",
		"caps-ovrwrk":       "17\t연구소\t선임\t1\t0001\t김민수\t20240105\t평일\t085102\t183015\t\t\t0\t0\t0030\t0\t0930\t0900\r\n",
		"telecop-csv":       "date_Attestation,str_Week,str_workempNum,str_workempName,str_Mode,str_accTerminalPlace,str_ValidationStatus\n2024-01-05 오전 8:51:02,금,3050019,김민수,출근,정문,성공\n",
		"telecop-xml":       `<?xml version="1.0" standalone="yes"?>` + "\n<NewDataSet>\n  <tb_workresult>\n    <date_Attestation>2024-01-05 오전 8:51:02</date_Attestation>\n",
		"telecop-report":    "출입기록 보고서\n기간: 2024-01-01 ~ 2024-01-31\n\n인증일시,요일,사원번호,이름,인증모드\n2024-01-05 08:51:02,금,3050019,김민수,출근\n",
		"alarm-no-newline":  alarmHeader, // a file holding only its header
	}
	for _, tc := range []struct {
		layout string
		yes    []string
	}{
		{layoutAlarm, []string{"secom-alarm", "alarm-no-newline"}},
		{layoutWorkHist, []string{"secom-workhistory"}},
	} {
		l := layout(t, tc.layout)
		for name, h := range heads {
			want := false
			for _, y := range tc.yes {
				want = want || y == name
			}
			if got := l.Sniff(h); got != want {
				t.Errorf("%s.Sniff(%s head) = %v, want %v", tc.layout, name, got, want)
			}
		}
	}
	for _, tc := range []struct {
		layout, name string
		want         bool
	}{
		{layoutAlarm, "T_SECOM_ALARM_20240105.csv", true},
		{layoutAlarm, "secom_workhistory_202401.csv", false},
		{layoutWorkHist, "secom_workhistory_202401.csv", true},
		{layoutWorkHist, "T_SECOM_ALARM_20240105.csv", false},
	} {
		if got := layout(t, tc.layout).FileHint(tc.name); got != tc.want {
			t.Errorf("%s.FileHint(%q) = %v, want %v", tc.layout, tc.name, got, tc.want)
		}
	}
}

// TestRules pins the rules that are easy to get subtly wrong.
func TestRules(t *testing.T) {
	kst := parsekit.Seoul()
	for _, tc := range []struct {
		name, layout, text string
		opt                parsekit.Options
		want               []string // per punch: mode raw_mode occurred_at employee_no device
		rejects            []string // reasons, substring match
		fileErr            string
	}{
		{
			name: "flag1 codes", layout: layoutAlarm,
			text: alarmHeader + "\n" +
				"20240105075640,1,1000,2,0,0,,,,0,0,0109338254950,김민수,W,1,0,0,0,,,9.0.1,160000012345\n" +
				"20240105180455,2,1000,2,0,0,,,,0,0,0109338254950,김민수,W,4,0,0,0,,,9.0.1,160000012345\n" +
				"20240105121502,3,1003,2,0,0,,,,0,0,0109338254950,김민수,W,,0,0,0,,,9.0.1,160000012345\n",
			want: []string{
				"in 1 2024-01-05T07:56:40+09:00 160000012345 1000",
				"out 4 2024-01-05T18:04:55+09:00 160000012345 1000",
				"pass  2024-01-05T12:15:02+09:00 160000012345 1003",
			},
		},
		{
			name: "flag1 from site codes", layout: layoutAlarm,
			opt: parsekit.Options{Codes: parsekit.Codes{
				SecomFlag1Modes:  map[string]attendance.Mode{"4": attendance.ModeIn, "1": attendance.ModeOut},
				SecomDefaultMode: attendance.ModeUnknown,
			}},
			text: alarmHeader + "\n" +
				"20240105075640,1,1000,2,0,0,,,,0,0,0109338254950,김민수,W,4,0,0,1,,,9.0.1,160000012345\n" +
				"20240105121502,3,1003,2,0,0,,,,0,0,0109338254950,김민수,W,0,0,0,0,,,9.0.1,160000012345\n",
			want: []string{
				"in 4 2024-01-05T07:56:40+09:00 160000012345 1000",
				"unknown 0 2024-01-05T12:15:02+09:00 160000012345 1003",
			},
		},
		{
			name: "bad ATime names the field, masks the card", layout: layoutAlarm,
			text: alarmHeader + "\n" +
				"2024021312,1,1000,2,0,0,,,,0,0,0109338254950,김민수,W,1,0,0,0,,,9.0.1,160000012345\n",
			rejects: []string{`ATime: timestamp "2024021312": want 14 digits YYYYMMDDHHMMSS`},
		},
		{
			name: "card shifted into ATime is masked in the reason", layout: layoutAlarm,
			text: alarmHeader + "\n" +
				"0109338254950,김민수,W,1\n",
			rejects: []string{"want 22 fields, got 4"},
		},
		{
			name: "header missing Sabun", layout: layoutAlarm,
			text:    strings.TrimSuffix(alarmHeader, ",Sabun") + "\n" + alarmRow1 + "\n",
			fileErr: "line 1: header",
		},
		{
			name: "data without header", layout: layoutAlarm,
			text:    alarmRow1 + "\n",
			fileErr: "lacks column(s) ATime,EqCode,CardNo,Name,Flag1,Sabun",
		},
		{
			name: "empty file", layout: layoutWorkHist, text: "\r\n",
			fileErr: "empty file",
		},
		{
			name: "workhistory next day, absent, out only", layout: layoutWorkHist,
			text: workHeader + "\n" +
				"20240102,T2401007,박지훈,0102741198364,20240102213500,20240103062010,1,1,0,0,\n" +
				"20240102,160000000871,최유진,0106620043317,,,0,0,0,1,\n" +
				"20240102,160000020011,한지민,,,20240102181100,0,1,0,0,\n",
			want: []string{
				"in WSTime 2024-01-02T21:35:00+09:00 T2401007 ",
				"out WCTime 2024-01-03T06:20:10+09:00 T2401007 ",
				"out WCTime 2024-01-02T18:11:00+09:00 160000020011 ",
			},
		},
		{
			name: "workhistory bad WCTime rejects the whole row", layout: layoutWorkHist,
			text: workHeader + "\n" +
				"20240102,T2401007,박지훈,0102741198364,20240102213500,2024010306,1,1,0,0,\n",
			rejects: []string{`WCTime: timestamp "2024010306"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &collect{}
			opt := tc.opt
			opt.Site, opt.File = "factory", "t.csv"
			err := layout(t, tc.layout).Parse(strings.NewReader(tc.text), opt, c)
			if tc.fileErr != "" {
				var fe *parsekit.FileError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.fileErr) {
					t.Fatalf("err = %v, want FileError containing %q", err, tc.fileErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, []byte(tc.text), c)
			var got []string
			for _, p := range c.punches {
				got = append(got, strings.Join([]string{string(p.Mode), p.RawMode, p.OccurredAt.In(kst).Format("2006-01-02T15:04:05Z07:00"), p.EmployeeNo, p.Device}, " "))
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
