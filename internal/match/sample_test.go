package match

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/parsers"
	"github.com/attendance-pipeline/attnd/internal/parsers/adtcaps"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
	"github.com/attendance-pipeline/attnd/internal/sample"
)

type collect struct{ punches []attendance.Punch }

func (c *collect) Punch(p attendance.Punch) error { c.punches = append(c.punches, p); return nil }
func (c *collect) Reject(attendance.Reject) error { return nil }

// TestSampleCompany runs the generated drops of internal/sample through the
// parsers and the matcher with the recommended rules (testdata/match.yaml)
// and checks every punch against the generator's truth: people missing from
// HR are unmatched, everyone else is matched to the account with their name,
// one vendor number to one account.
func TestSampleCompany(t *testing.T) {
	ctx := context.Background()
	loc := parsekit.Seoul()
	dir := t.TempDir()
	truth, err := sample.Generate(sample.Config{
		Dir: dir, People: 45, Unmatched: 2, Seed: 7, Location: loc, BadRows: true,
		From: time.Date(2026, 3, 2, 0, 0, 0, 0, loc), To: time.Date(2026, 3, 4, 0, 0, 0, 0, loc),
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig("testdata/match.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sites := []string{"factory", "lab"}
	if len(adtcaps.Layouts()) > 0 { // the Caps parser is written concurrently by another helper
		sites = append(sites, "hq")
	} else {
		t.Log("adtcaps parser not available yet: hq not covered")
	}
	var punches []attendance.Punch
	for _, site := range sites {
		files, _ := filepath.Glob(filepath.Join(dir, "drops", site, "*"))
		if len(files) == 0 {
			t.Fatalf("no drops for %s", site)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			c := &collect{}
			if _, err := parsers.Parse(ctx, strings.NewReader(string(b)), parsers.Request{Name: f, Options: parsekit.Options{Site: site, CardKey: testKey, Location: loc}}, c); err != nil {
				t.Fatalf("parse %s: %v", f, err)
			}
			punches = append(punches, c.punches...)
		}
	}
	emps, err := RosterFile(filepath.Join(dir, "roster.csv"), testKey).Employees(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMatcher(cfg, emps, time.Date(2026, 3, 5, 0, 0, 0, 0, loc), nil)
	if err != nil {
		t.Fatal(err)
	}

	unmatched := map[string]bool{}
	for _, v := range truth.UnmatchedVendors {
		unmatched[v] = true
	}
	hrBySite := map[string]map[string]bool{}
	for _, d := range truth.Days {
		if hrBySite[d.Site] == nil {
			hrBySite[d.Site] = map[string]bool{}
		}
		hrBySite[d.Site][d.EmployeeNo] = true
	}
	vendorToHR := map[string]string{}
	hrToVendor := map[string]string{}
	seenUnmatched := map[string]bool{}
	seenHR := map[string]bool{}
	counts := map[string]int{}
	for _, p := range punches {
		key := p.Site + "/" + p.EmployeeNo
		r := m.Match(p)
		counts[r.Outcome]++
		if unmatched[key] {
			seenUnmatched[key] = true
			if r.Outcome != attendance.OutcomeUnmatched || (p.CardHash != "") != strings.Contains(r.Reason, "unknown") {
				t.Errorf("%s (not in HR, card hash %t): %s %q, want unmatched, the card tried when there is one", key, p.CardHash != "", r.Outcome, r.Reason)
			}
			continue
		}
		if r.Outcome != attendance.OutcomeMatched {
			t.Errorf("%s %s: %s %q", key, p.Name, r.Outcome, r.Reason)
			continue
		}
		e := r.Employee
		if e.Name != p.Name || !hrBySite[p.Site][e.EmployeeNo] || !strings.HasPrefix(r.Reason, "number ") {
			t.Errorf("%s %s matched %+v by %q", key, p.Name, e, r.Reason)
		}
		if prev, ok := vendorToHR[key]; ok && prev != e.EmployeeNo {
			t.Errorf("%s matched both %s and %s", key, prev, e.EmployeeNo)
		}
		if prev, ok := hrToVendor[e.EmployeeNo]; ok && prev != key {
			t.Errorf("%s matched from both %s and %s", e.EmployeeNo, prev, key)
		}
		vendorToHR[key], hrToVendor[e.EmployeeNo] = e.EmployeeNo, key
		seenHR[p.Site+"/"+e.EmployeeNo] = true
	}
	for _, v := range truth.UnmatchedVendors {
		if site := strings.Split(v, "/")[0]; contains(sites, site) && !seenUnmatched[v] {
			t.Errorf("unmatched vendor %s never seen", v)
		}
	}
	for _, d := range truth.Days {
		if contains(sites, d.Site) && !seenHR[d.Site+"/"+d.EmployeeNo] {
			t.Errorf("%s/%s works on %s but was never matched", d.Site, d.EmployeeNo, d.WorkingDay)
		}
	}
	if counts[attendance.OutcomeMatched] == 0 || counts[attendance.OutcomeUnmatched] == 0 || counts[attendance.OutcomeAmbiguous] != 0 {
		t.Errorf("outcomes %v", counts)
	}
	t.Logf("sites %v: %d punches, outcomes %v", sites, len(punches), counts)

	// Without the rules the factory and lab numbers fit nobody but the card
	// still does (the roster holds every HR card): matched by card, never by
	// number. (hq numbers equal HR's: no rules needed.)
	bare, _ := NewMatcher(Config{}, emps, time.Date(2026, 3, 5, 0, 0, 0, 0, loc), nil)
	byCard := 0
	for _, p := range punches {
		if unmatched[p.Site+"/"+p.EmployeeNo] || p.Site == "hq" {
			continue
		}
		r := bare.Match(p)
		if r.Outcome == attendance.OutcomeMatched {
			byCard++
		}
		switch {
		case p.CardHash == "" && r.Outcome != attendance.OutcomeUnmatched:
			t.Fatalf("no rules, no card: %s/%s %s %q", p.Site, p.EmployeeNo, r.Outcome, r.Reason)
		case p.CardHash != "" && (r.Outcome != attendance.OutcomeMatched || r.Employee.EmployeeNo != vendorToHR[p.Site+"/"+p.EmployeeNo] || !strings.HasPrefix(r.Reason, "card ")):
			t.Fatalf("no rules, card: %s/%s %s %q, want %s by card", p.Site, p.EmployeeNo, r.Outcome, r.Reason, vendorToHR[p.Site+"/"+p.EmployeeNo])
		}
	}
	if byCard == 0 {
		t.Error("no punch matched by card")
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func ExampleMatcher_Match() {
	cfg := Config{Sites: []SiteRules{{Site: "lab", Rules: []Rule{{Kind: RulePadZeros, Width: 8}}}}}
	dir := []attendance.Employee{{EmployeeNo: "00120002", LoginID: "lee", Name: "이서연"}}
	m, _ := NewMatcher(cfg, dir, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), nil)
	for _, no := range []string{"120002", "120003"} {
		r := m.Match(attendance.Punch{Site: "lab", EmployeeNo: no})
		fmt.Println(r.Outcome, r.Employee.LoginID, r.Reason)
	}
	// Output:
	// matched lee number 00120002
	// unmatched  no employee 120003 after rules [pad_zeros:8] (tried 00120003)
}
