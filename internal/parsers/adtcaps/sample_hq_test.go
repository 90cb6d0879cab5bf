package adtcaps_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/parsers"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
	"github.com/attendance-pipeline/attnd/internal/sample"
)

// emitted keeps every punch and reject and their NDJSON.
type emitted struct {
	punches []attendance.Punch
	rejects []attendance.Reject
	ndjson  bytes.Buffer
}

func (e *emitted) Punch(p attendance.Punch) error {
	e.punches = append(e.punches, p)
	return json.NewEncoder(&e.ndjson).Encode(p)
}

func (e *emitted) Reject(r attendance.Reject) error {
	e.rejects = append(e.rejects, r)
	return json.NewEncoder(&e.ndjson).Encode(r)
}

// TestSampleHQAgainstTruth parses the generated drops of site hq (hourly
// CP949 caps-event-txt files) with vendor and layout on auto and checks them
// against the generator's truth.json, not against counts alone: every
// clock-in and clock-out of every hq working day is a punch at that instant,
// every non-garbage line is a punch, the only rejects are the generator's
// garbage rows (one per day), and no roster card leaks.
func TestSampleHQAgainstTruth(t *testing.T) {
	dir := t.TempDir()
	loc := parsekit.Seoul()
	from := time.Date(2024, 1, 8, 0, 0, 0, 0, loc) // Monday
	to := time.Date(2024, 1, 10, 0, 0, 0, 0, loc)  // Wednesday: 3 working days
	if _, err := sample.Generate(sample.Config{Dir: dir, From: from, To: to,
		People: 90, Unmatched: 3, Seed: 11, Location: loc, BadRows: true}); err != nil {
		t.Fatal(err)
	}
	var truth sample.Truth
	b, err := os.ReadFile(filepath.Join(dir, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatalf("truth.json: %v", err)
	}

	files, _ := filepath.Glob(filepath.Join(dir, "drops", "hq", "*"))
	if len(files) < 5 {
		t.Fatalf("only %d hq drops", len(files))
	}
	var got emitted
	lines := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines += countLines(raw)
		res, err := parsers.Parse(context.Background(), bytes.NewReader(raw), parsers.Request{Vendor: "auto", Layout: "auto", Name: filepath.Base(f),
			Options: parsekit.Options{Site: "hq", File: filepath.Base(f), Location: loc, CardKey: []byte("hq-key")}}, &got)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if res.Layout != "caps-event-txt" || res.Encoding == "" {
			t.Errorf("%s: detected %s/%s, want caps-event-txt", filepath.Base(f), res.Layout, res.Encoding)
		}
	}

	const days = 3
	if len(got.rejects) != days {
		t.Errorf("%d rejects, want the %d garbage rows", len(got.rejects), days)
	}
	for _, r := range got.rejects {
		if !strings.Contains(r.Raw, "NOT A TAG LINE") {
			t.Errorf("unexpected reject %s:%d %s: %q", r.File, r.Line, r.Reason, r.Raw)
		}
	}
	if len(got.punches) != lines-len(got.rejects) {
		t.Errorf("%d punches from %d lines with %d rejects: lines were dropped", len(got.punches), lines, len(got.rejects))
	}

	type key struct {
		emp, mode string
		at        int64
	}
	have := map[key]bool{}
	people := map[string]bool{}
	for _, p := range got.punches {
		have[key{p.EmployeeNo, string(p.Mode), p.OccurredAt.Unix()}] = true
		people[p.EmployeeNo] = true
		if _, off := p.OccurredAt.Zone(); off != 9*3600 {
			t.Errorf("%s:%d: offset %d, want +09:00", p.SourceFile, p.SourceLine, off)
		}
		if p.Mode == attendance.ModeUnknown || !p.AuthOK || p.Name == "" || p.Device == "" {
			t.Errorf("%s:%d: %+v", p.SourceFile, p.SourceLine, p)
		}
		if p.CardMasked != "" && (len(p.CardMasked) != 13 || !strings.HasPrefix(p.CardMasked, "*********") || p.CardHash == "") {
			t.Errorf("%s:%d: card_masked %q hash %q", p.SourceFile, p.SourceLine, p.CardMasked, p.CardHash)
		}
	}
	hqDays := 0
	for _, d := range truth.Days {
		if d.Site != "hq" {
			continue
		}
		hqDays++
		for mode, at := range map[attendance.Mode]string{attendance.ModeIn: d.ClockIn, attendance.ModeOut: d.ClockOut} {
			if at == "" {
				continue // forgotten clock-out
			}
			ts, err := time.Parse(time.RFC3339, at)
			if err != nil {
				t.Fatal(err)
			}
			if !have[key{d.EmployeeNo, string(mode), ts.Unix()}] {
				t.Errorf("truth %s %s %s: no %s punch at %s", d.EmployeeNo, d.WorkingDay, mode, mode, at)
			}
		}
	}
	if hqDays < 30*days*9/10 {
		t.Fatalf("truth has only %d hq days", hqDays)
	}
	for _, u := range truth.UnmatchedVendors {
		if no, ok := strings.CutPrefix(u, "hq/"); ok && !people[no] {
			t.Errorf("unmatched vendor user %s never punched", no)
		}
	}

	// No card of the roster may appear in any punch or reject.
	roster, err := os.ReadFile(filepath.Join(dir, "roster.csv"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(roster))
	sc.Scan() // header
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		if len(f) > 3 && f[3] != "" && bytes.Contains(got.ndjson.Bytes(), []byte(f[3])) {
			t.Errorf("card of %s leaked into the output", f[0])
		}
	}
}

// discard drops everything.
type discard struct{}

func (discard) Punch(attendance.Punch) error   { return nil }
func (discard) Reject(attendance.Reject) error { return nil }

func countLines(raw []byte) int {
	n := 0
	for l := range bytes.SplitSeq(raw, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			n++
		}
	}
	return n
}
