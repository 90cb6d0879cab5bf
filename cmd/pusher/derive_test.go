package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// deriveLine is one punch event line for the command tests.
func deriveLine(emp, at, mode string, auth bool) string {
	a := "true"
	if !auth {
		a = "false"
	}
	return `{"event_id":"` + emp + at + mode + a + `","site":"hq","occurred_at":"` + at + `","employee_no":"` + emp + `","mode":"` + mode + `","auth_ok":` + a + "}\n"
}

func TestDeriveCommand(t *testing.T) {
	ordinary := deriveLine("E2", "2024-01-05T18:00:00+09:00", "out", true) +
		deriveLine("E1", "2024-01-06T02:00:00+09:00", "out", true) +
		deriveLine("E2", "2024-01-05T08:00:00+09:00", "in", true)
	tests := []struct {
		name       string
		args       []string
		stdin      string
		code       int
		stdout     string
		stderrHas  string
		stderrNone bool
	}{
		{
			name:  "records sorted, null clock times, flags arrays",
			stdin: ordinary,
			stdout: `{"site":"hq","employee_no":"E1","working_day":"2024-01-05","clock_in":null,"clock_out":"2024-01-06T02:00:00+09:00","flags":["missing_in","night_shift"]}` + "\n" +
				`{"site":"hq","employee_no":"E2","working_day":"2024-01-05","clock_in":"2024-01-05T08:00:00+09:00","clock_out":"2024-01-05T18:00:00+09:00","flags":[]}` + "\n",
			stderrNone: true,
		},
		{
			name:   "--day-start 01:30 keeps a 02:00 out on its own date",
			args:   []string{"--day-start", "01:30"},
			stdin:  deriveLine("E1", "2024-01-06T02:00:00+09:00", "out", true),
			stdout: `{"site":"hq","employee_no":"E1","working_day":"2024-01-06","clock_in":null,"clock_out":"2024-01-06T02:00:00+09:00","flags":["missing_in"]}` + "\n",
		},
		{
			name:   "--day-start as a Go duration",
			args:   []string{"--day-start", "90m"},
			stdin:  deriveLine("E1", "2024-01-06T02:00:00+09:00", "out", true),
			stdout: `{"site":"hq","employee_no":"E1","working_day":"2024-01-06","clock_in":null,"clock_out":"2024-01-06T02:00:00+09:00","flags":["missing_in"]}` + "\n",
		},
		{
			name:   "--max-shift 8h",
			args:   []string{"--max-shift", "8h"},
			stdin:  deriveLine("E1", "2024-01-05T08:00:00+09:00", "in", true) + deriveLine("E1", "2024-01-05T17:00:00+09:00", "out", true),
			stdout: `{"site":"hq","employee_no":"E1","working_day":"2024-01-05","clock_in":"2024-01-05T08:00:00+09:00","clock_out":null,"flags":["missing_out","out_beyond_max_shift"]}` + "\n",
		},
		{
			name: "--dedup-window 0 keeps taps across midnight apart",
			args: []string{"--dedup-window", "0s"},
			stdin: deriveLine("E1", "2024-01-05T23:59:50+09:00", "in", true) +
				deriveLine("E1", "2024-01-06T00:00:10+09:00", "in", true),
			stdout: `{"site":"hq","employee_no":"E1","working_day":"2024-01-05","clock_in":"2024-01-05T23:59:50+09:00","clock_out":null,"flags":["missing_out"]}` + "\n" +
				`{"site":"hq","employee_no":"E1","working_day":"2024-01-06","clock_in":"2024-01-06T00:00:10+09:00","clock_out":null,"flags":["missing_out"]}` + "\n",
		},
		{
			name:   "default dedup window collapses them",
			stdin:  deriveLine("E1", "2024-01-05T23:59:50+09:00", "in", true) + deriveLine("E1", "2024-01-06T00:00:10+09:00", "in", true),
			stdout: `{"site":"hq","employee_no":"E1","working_day":"2024-01-05","clock_in":"2024-01-05T23:59:50+09:00","clock_out":null,"flags":["missing_out"]}` + "\n",
		},
		{
			name:   "--pass-as-arrival",
			args:   []string{"--pass-as-arrival"},
			stdin:  deriveLine("E1", "2024-01-05T08:40:00+09:00", "pass", true) + deriveLine("E1", "2024-01-05T08:55:00+09:00", "in", true),
			stdout: `{"site":"hq","employee_no":"E1","working_day":"2024-01-05","clock_in":"2024-01-05T08:40:00+09:00","clock_out":null,"flags":["missing_out","pass_as_arrival"]}` + "\n",
		},
		{
			name:   "--tz Asia/Seoul dates and prints UTC punches in KST",
			args:   []string{"--tz", "Asia/Seoul"},
			stdin:  deriveLine("E1", "2024-01-04T23:30:00Z", "in", true) + deriveLine("E1", "2024-01-05T09:00:00Z", "out", true),
			stdout: `{"site":"hq","employee_no":"E1","working_day":"2024-01-05","clock_in":"2024-01-05T08:30:00+09:00","clock_out":"2024-01-05T18:00:00+09:00","flags":[]}` + "\n",
		},
		{
			name:   "without --tz the punch's own offset dates it",
			stdin:  deriveLine("E1", "2024-01-04T23:30:00Z", "in", true),
			stdout: `{"site":"hq","employee_no":"E1","working_day":"2024-01-04","clock_in":"2024-01-04T23:30:00Z","clock_out":null,"flags":["missing_out"]}` + "\n",
		},
		{
			name:  "failed authentications and passes only: nothing",
			stdin: deriveLine("E1", "2024-01-05T08:00:00+09:00", "in", false) + deriveLine("E1", "2024-01-05T09:00:00+09:00", "pass", true),
		},
		{name: "empty input", stdin: "", stderrNone: true},
		{
			name:   "blank lines and a byte order mark are fine",
			stdin:  "\xef\xbb\xbf" + deriveLine("E1", "2024-01-05T08:00:00+09:00", "in", true) + "\n  \n",
			stdout: `{"site":"hq","employee_no":"E1","working_day":"2024-01-05","clock_in":"2024-01-05T08:00:00+09:00","clock_out":null,"flags":["missing_out"]}` + "\n",
		},
		{
			name:      "punches without employee number are counted",
			stdin:     deriveLine("", "2024-01-05T08:00:00+09:00", "in", true),
			stderrHas: "1 punches without employee_no ignored",
		},
		{name: "bad JSON names the line", stdin: ordinary + "{not json\n", code: 2, stderrHas: "line 4:"},
		{name: "missing occurred_at", stdin: "\n" + `{"employee_no":"E1","mode":"in","auth_ok":true}` + "\n", code: 2, stderrHas: "line 2: occurred_at missing"},
		{name: "bad mode", stdin: strings.Replace(deriveLine("E1", "2024-01-05T08:00:00+09:00", "in", true), `"in"`, `"sideways"`, 1), code: 2, stderrHas: `line 1: mode "sideways"`},
		{name: "bad time", stdin: deriveLine("E1", "2024-01-05 08:00", "in", true), code: 2, stderrHas: "line 1:"},
		{name: "bad --day-start", args: []string{"--day-start", "25:00"}, code: 2, stderrHas: "--day-start"},
		{name: "bad --day-start word", args: []string{"--day-start", "dawn"}, code: 2, stderrHas: "--day-start"},
		{name: "--day-start out of range as duration", args: []string{"--day-start", "30h"}, code: 2, stderrHas: "day start"},
		{name: "zero --max-shift", args: []string{"--max-shift", "0s"}, code: 2, stderrHas: "max shift"},
		{name: "bad --tz", args: []string{"--tz", "Mars/Olympus"}, code: 2, stderrHas: "--tz"},
		{name: "unknown flag", args: []string{"--nope"}, code: 2},
		{name: "stray argument", args: []string{"punches.ndjson"}, code: 2, stderrHas: "usage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runDerive(context.Background(), tc.args, strings.NewReader(tc.stdin), &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			if stdout.String() != tc.stdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout.String(), tc.stdout)
			}
			if tc.stderrHas != "" && !strings.Contains(stderr.String(), tc.stderrHas) {
				t.Errorf("stderr %q does not mention %q", stderr.String(), tc.stderrHas)
			}
			if tc.stderrNone && stderr.Len() > 0 {
				t.Errorf("unexpected stderr: %s", stderr.String())
			}
			if tc.code != 0 && stdout.Len() > 0 {
				t.Errorf("output despite failure: %s", stdout.String())
			}
		})
	}
}

// The command prints what the package's golden file holds for the same input.
func TestDeriveCommandGolden(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("..", "..", "internal", "derive", "testdata", "punches.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "internal", "derive", "testdata", "days.golden.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := runDerive(context.Background(), nil, bytes.NewReader(in), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if stdout.String() != string(want) {
		t.Errorf("stdout differs from the golden file:\n%s", stdout.String())
	}
}

func TestDeriveLongLine(t *testing.T) {
	in := deriveLine("E1", "2024-01-05T08:00:00+09:00", "in", true) + strings.Repeat("x", 5<<20) + "\n"
	var stdout, stderr bytes.Buffer
	if code := runDerive(context.Background(), nil, strings.NewReader(in), &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "line 2:") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestParseDayStart(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"04:00", 4 * time.Hour, true},
		{"4:30", 4*time.Hour + 30*time.Minute, true},
		{"00:00", 0, true},
		{"23:59", 23*time.Hour + 59*time.Minute, true},
		{"05:00:30", 5*time.Hour + 30*time.Second, true},
		{"4h", 4 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{"24:00", 0, false},
		{"04:60", 0, false},
		{"04:5", 0, false},
		{"-1:00", 0, false},
		{"04:", 0, false},
		{":30", 0, false},
		{"1:2:3:4", 0, false},
		{"four", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		got, err := parseDayStart(tc.in)
		if (err == nil) != tc.ok || tc.ok && got != tc.want {
			t.Errorf("parseDayStart(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestDispatchDerive(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := dispatch(context.Background(), []string{"derive", "--max-shift", "-1h"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "max shift") {
		t.Fatalf("dispatch derive: exit %d, stderr %q", code, stderr.String())
	}
}
