package match

import (
	"bytes"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
)

func TestRules(t *testing.T) {
	tests := []struct {
		rule Rule
		in   string
		want string
	}{
		{Rule{Kind: RuleLast, N: 8}, "160000120001", "00120001"},
		{Rule{Kind: RuleLast, N: 8}, "123", "123"},
		{Rule{Kind: RuleLast, N: 2}, "사번12", "12"},
		{Rule{Kind: RuleStripPrefix, Prefix: "1600"}, "160000120001", "00120001"},
		{Rule{Kind: RuleStripPrefix, Prefix: "1600"}, "00120001", "00120001"},
		{Rule{Kind: RuleRegexp, Pattern: `^T(\d+)$`}, "T0042", "0042"},
		{Rule{Kind: RuleRegexp, Pattern: `^T(\d+)$`}, "KS2203002", "KS2203002"},
		{Rule{Kind: RuleRegexp, Pattern: `\d{4}$`}, "AB123456", "3456"},
		{Rule{Kind: RuleStripZeros}, "000123", "123"},
		{Rule{Kind: RuleStripZeros}, "000", "0"},
		{Rule{Kind: RuleStripZeros}, "", ""},
		{Rule{Kind: RulePadZeros, Width: 8}, "120002", "00120002"},
		{Rule{Kind: RulePadZeros, Width: 8}, "123456789", "123456789"},
		{Rule{Kind: RulePadZeros, Width: 8}, "T123", "T123"},
		{Rule{Kind: RuleUpper}, "ks2203002", "KS2203002"},
	}
	for _, tt := range tests {
		t.Run(tt.rule.String()+"/"+tt.in, func(t *testing.T) {
			c, err := compileRule(tt.rule)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.apply(tt.in); got != tt.want {
				t.Errorf("%s(%q) = %q, want %q", tt.rule, tt.in, got, tt.want)
			}
		})
	}
}

func TestRuleChainInOrder(t *testing.T) {
	chain := ruleChain{}
	for _, r := range []Rule{{Kind: RuleUpper}, {Kind: RuleStripPrefix, Prefix: "KS"}, {Kind: RuleStripZeros}, {Kind: RulePadZeros, Width: 6}} {
		c, err := compileRule(r)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, c)
	}
	if got := chain.apply("ks0002203"); got != "002203" {
		t.Errorf("chain = %q, want 002203", got)
	}
	if got := chain.String(); got != "[upper strip_prefix:KS strip_zeros pad_zeros:6]" {
		t.Errorf("String = %q", got)
	}
}

func TestBadRules(t *testing.T) {
	tests := []struct {
		rule Rule
		want string
	}{
		{Rule{Kind: "lower"}, "unknown rule kind"},
		{Rule{Kind: RuleLast}, "n must be positive"},
		{Rule{Kind: RuleStripPrefix}, "prefix is empty"},
		{Rule{Kind: RuleRegexp, Pattern: "("}, "rule regexp"},
		{Rule{Kind: RuleRegexp, Pattern: `(\d)(\d)`}, "at most one capture group"},
		{Rule{Kind: RulePadZeros}, "width must be"},
	}
	for _, tt := range tests {
		t.Run(tt.rule.Kind, func(t *testing.T) {
			cfg := Config{Sites: []SiteRules{{Site: "hq", Rules: []Rule{tt.rule}}}}
			_, err := NewMatcher(cfg, nil, time.Now(), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "site hq rules[0]") {
				t.Fatalf("err = %v, want one naming site hq rules[0] and %q", err, tt.want)
			}
		})
	}
	if _, err := NewMatcher(Config{Sites: []SiteRules{{Site: "a"}, {Site: "a"}}}, nil, time.Now(), nil); err == nil {
		t.Error("a site configured twice was accepted")
	}
	if _, err := NewMatcher(Config{Sites: []SiteRules{{Site: "a", Overrides: map[string]string{"1": ""}}}}, nil, time.Now(), nil); err == nil {
		t.Error("an empty override target was accepted")
	}
}

var testKey = []byte("test-card-key")

func hash(card string) string { return parsekit.CardHash(testKey, parsekit.NormalizeCard(card)) }

// seoulNoon is 2026-04-01 12:00 in Seoul.
var seoulNoon = time.Date(2026, 4, 1, 3, 0, 0, 0, time.UTC)

func testDirectory() []attendance.Employee {
	return []attendance.Employee{
		{EmployeeNo: "00120001", LoginID: "kim", Name: "김민수", Status: "ONLINE", CardHashes: []string{hash("01012345678")}},
		{EmployeeNo: "00120002", LoginID: "lee", Name: "이서연", Status: "ONLINE"},
		{EmployeeNo: "00120003", LoginID: "park", Name: "박지훈", ExpiredDate: "2026-03-31", CardHashes: []string{hash("01099990000")}},
		{EmployeeNo: "00120004", LoginID: "choi", Name: "최하은", ExpiredDate: "2026-04-01"},      // leaves today
		{EmployeeNo: "00120005", LoginID: "jung", Name: "정도윤", ExpiredDate: "2026-04-02"},      // leaves tomorrow
		{EmployeeNo: "00120006", LoginID: "kang", Name: "강지우", Aliases: []string{"KS2203002"}}, // an alphanumeric vendor id
		{EmployeeNo: "00120007", LoginID: "cho", Name: "조현우", CardHashes: []string{hash("0105550000A")}},
		{EmployeeNo: "00120008", LoginID: "yoon", Name: "윤수아", CardHashes: []string{hash("0105550000a")}}, // same card as 00120007 after upper-casing
		{EmployeeNo: "00120009", LoginID: "jang", Name: "장준호", Status: "STOP"},
		{EmployeeNo: "00120010", LoginID: "lim1", Name: "임예린"},
		{EmployeeNo: "00120010", LoginID: "lim2", Name: "임예린"}, // one number on two accounts
		{EmployeeNo: "", LoginID: "dept-node", Name: "개발팀"},
	}
}

func testConfig() Config {
	return Config{Sites: []SiteRules{
		{Site: "factory", Rules: []Rule{{Kind: RuleStripPrefix, Prefix: "1600"}}, Overrides: map[string]string{
			"1600T0001":    "00120002", // a contract worker's T id, remapped by hand
			"1600X0001":    "00999999", // a stale override
			"160000120099": "00120003",
		}},
		{Site: "lab", Rules: []Rule{{Kind: RulePadZeros, Width: 8}}},
		{Site: "hq"},
	}}
}

func TestMatch(t *testing.T) {
	m, err := NewMatcher(testConfig(), testDirectory(), seoulNoon, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		p          attendance.Punch
		outcome    string
		employee   string
		candidates []string
		reason     string
	}{
		{"rules: strip_prefix", attendance.Punch{Site: "factory", EmployeeNo: "160000120001"}, attendance.OutcomeMatched, "00120001", nil, "number 00120001"},
		{"rules: pad_zeros", attendance.Punch{Site: "lab", EmployeeNo: "120002"}, attendance.OutcomeMatched, "00120002", nil, "number 00120002"},
		{"number as written", attendance.Punch{Site: "hq", EmployeeNo: " 00120002 "}, attendance.OutcomeMatched, "00120002", nil, "number 00120002"},
		{"rules are per site", attendance.Punch{Site: "hq", EmployeeNo: "120002"}, attendance.OutcomeUnmatched, "", nil, "no employee 120002 (no rules for site hq)"},
		{"override", attendance.Punch{Site: "factory", EmployeeNo: "1600T0001"}, attendance.OutcomeMatched, "00120002", nil, "override 1600T0001 -> 00120002"},
		{"override is per site", attendance.Punch{Site: "lab", EmployeeNo: "1600T0001"}, attendance.OutcomeUnmatched, "", nil, "no employee 1600T0001 after rules [pad_zeros:8]"},
		{"override to nobody", attendance.Punch{Site: "factory", EmployeeNo: "1600X0001"}, attendance.OutcomeUnmatched, "", nil, "override 1600X0001 -> 00999999: no such employee"},
		{"override to a leaver", attendance.Punch{Site: "factory", EmployeeNo: "160000120099"}, attendance.OutcomeUnmatched, "", nil, "left 2026-03-31 (00120003)"},
		{"alias", attendance.Punch{Site: "factory", EmployeeNo: "KS2203002"}, attendance.OutcomeMatched, "00120006", nil, "alias KS2203002"},
		{"unknown number with rules", attendance.Punch{Site: "factory", EmployeeNo: "160000123456"}, attendance.OutcomeUnmatched, "", nil, "no employee 160000123456 after rules [strip_prefix:1600] (tried 00123456)"},
		{"left yesterday", attendance.Punch{Site: "lab", EmployeeNo: "120003"}, attendance.OutcomeUnmatched, "", nil, "left 2026-03-31 (00120003)"},
		{"leaves today", attendance.Punch{Site: "lab", EmployeeNo: "120004"}, attendance.OutcomeUnmatched, "", nil, "left 2026-04-01 (00120004)"},
		{"leaves tomorrow", attendance.Punch{Site: "lab", EmployeeNo: "120005"}, attendance.OutcomeMatched, "00120005", nil, "number 00120005"},
		{"status is not guessed", attendance.Punch{Site: "lab", EmployeeNo: "120009"}, attendance.OutcomeMatched, "00120009", nil, "number 00120009"},
		{"one number on two accounts", attendance.Punch{Site: "lab", EmployeeNo: "120010"}, attendance.OutcomeAmbiguous, "", []string{"00120010/lim1", "00120010/lim2"}, "2 candidates by number 00120010"},
		{"card when no number", attendance.Punch{Site: "hq", CardHash: hash("01012345678"), CardMasked: "*******5678"}, attendance.OutcomeMatched, "00120001", nil, "card *******5678"},
		{"card when the number fits nobody", attendance.Punch{Site: "hq", EmployeeNo: "77", CardHash: hash("01012345678"), CardMasked: "*******5678"}, attendance.OutcomeMatched, "00120001", nil, "card *******5678"},
		{"number wins over card", attendance.Punch{Site: "lab", EmployeeNo: "120002", CardHash: hash("01012345678")}, attendance.OutcomeMatched, "00120002", nil, "number 00120002"},
		{"card of two people", attendance.Punch{Site: "hq", CardHash: hash("0105550000A"), CardMasked: "*******000A"}, attendance.OutcomeAmbiguous, "", []string{"00120007", "00120008"}, "2 candidates by card *******000A"},
		{"card of a leaver", attendance.Punch{Site: "hq", CardHash: hash("01099990000"), CardMasked: "*******0000"}, attendance.OutcomeUnmatched, "", nil, "left 2026-03-31 (00120003)"},
		{"unknown card", attendance.Punch{Site: "hq", CardHash: hash("01000000001"), CardMasked: "*******0001"}, attendance.OutcomeUnmatched, "", nil, "no employee number; card *******0001 unknown"},
		{"unknown number and card", attendance.Punch{Site: "lab", EmployeeNo: "5", CardHash: hash("01000000001"), CardMasked: "*******0001"}, attendance.OutcomeUnmatched, "", nil, "no employee 5 after rules [pad_zeros:8] (tried 00000005); card *******0001 unknown"},
		{"card without a hash", attendance.Punch{Site: "hq", CardMasked: "*******5678"}, attendance.OutcomeUnmatched, "", nil, "no employee number; card *******5678 not hashed (no card key)"},
		{"nothing at all", attendance.Punch{Site: "hq"}, attendance.OutcomeUnmatched, "", nil, "no employee number and no card"},
		{"unknown site", attendance.Punch{Site: "annex", EmployeeNo: "00120001"}, attendance.OutcomeMatched, "00120001", nil, "number 00120001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := m.Match(tt.p)
			if r.Outcome != tt.outcome || r.Employee.EmployeeNo != tt.employee || !reflect.DeepEqual(r.Candidates, tt.candidates) || r.Reason != tt.reason {
				t.Errorf("Match = {%s %q %v %q}, want {%s %q %v %q}", r.Outcome, r.Employee.EmployeeNo, r.Candidates, r.Reason, tt.outcome, tt.employee, tt.candidates, tt.reason)
			}
			if r.Outcome == attendance.OutcomeMatched && r.Employee.LoginID == "" {
				t.Error("matched without a login id")
			}
		})
	}
}

func TestMatchAmbiguousAcrossNumberAndAlias(t *testing.T) {
	dir := []attendance.Employee{
		{EmployeeNo: "00120001", LoginID: "a"},
		{EmployeeNo: "00120002", LoginID: "b", Aliases: []string{"00120001"}},
	}
	m, err := NewMatcher(Config{}, dir, seoulNoon, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := m.Match(attendance.Punch{Site: "hq", EmployeeNo: "00120001"})
	if r.Outcome != attendance.OutcomeAmbiguous || !reflect.DeepEqual(r.Candidates, []string{"00120001", "00120002"}) {
		t.Fatalf("Match = %+v, want ambiguous between 00120001 and 00120002", r)
	}
	// A leaver among the candidates is not a candidate.
	dir[1].ExpiredDate = "2025-12-31"
	m, _ = NewMatcher(Config{}, dir, seoulNoon, nil)
	if r := m.Match(attendance.Punch{Site: "hq", EmployeeNo: "00120001"}); r.Outcome != attendance.OutcomeMatched || r.Employee.LoginID != "a" {
		t.Fatalf("Match = %+v, want matched to a", r)
	}
}

func TestInactiveStatusesAndToday(t *testing.T) {
	dir := []attendance.Employee{{EmployeeNo: "1", LoginID: "a", Status: "STOP"}, {EmployeeNo: "2", LoginID: "b", ExpiredDate: "2026-04-01"}}
	m, err := NewMatcher(Config{InactiveStatuses: []string{"STOP"}}, dir, seoulNoon, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := m.Match(attendance.Punch{EmployeeNo: "1"}); r.Outcome != attendance.OutcomeUnmatched || r.Reason != "status STOP (1)" {
		t.Errorf("STOP configured inactive: %+v", r)
	}
	// 2026-03-31 23:30 in Seoul is still the day before the leaving date.
	m, _ = NewMatcher(Config{}, dir, time.Date(2026, 3, 31, 14, 30, 0, 0, time.UTC), nil)
	if r := m.Match(attendance.Punch{EmployeeNo: "2"}); r.Outcome != attendance.OutcomeMatched {
		t.Errorf("day before the leaving date in Seoul: %+v", r)
	}
	// 2026-03-31 15:30 UTC is already 2026-04-01 in Seoul.
	m, _ = NewMatcher(Config{}, dir, time.Date(2026, 3, 31, 15, 30, 0, 0, time.UTC), nil)
	if r := m.Match(attendance.Punch{EmployeeNo: "2"}); r.Outcome != attendance.OutcomeUnmatched {
		t.Errorf("leaving date in Seoul: %+v", r)
	}
}

func TestExpiredDateShapes(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"2026-03-31", "2026-03-31", true},
		{"2026-03-31 00:00:00", "2026-03-31", true},
		{"2026-03-31T00:00:00+09:00", "2026-03-31", true},
		{"20260331", "2026-03-31", true},
		{"2026-02-30", "", false},
		{"31/03/2026", "", false},
		{"2026-03-31x", "", false},
	}
	for _, tt := range tests {
		got, ok := parseDate(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseDate(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestUnknownStatusLoggedOnce(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	dir := []attendance.Employee{
		{EmployeeNo: "1", LoginID: "a", Status: "ONLINE"},
		{EmployeeNo: "2", LoginID: "b", Status: "SUSPENDED"},
		{EmployeeNo: "3", LoginID: "c", Status: "SUSPENDED"},
		{EmployeeNo: "4", LoginID: "d", Status: "VACATION"},
		{EmployeeNo: "5", LoginID: "e", Status: "VACATION", ExpiredDate: "someday"},
		{EmployeeNo: "6", LoginID: "f", Status: "CUSTOM"},
	}
	m, err := NewMatcher(Config{KnownStatuses: []string{"CUSTOM"}}, dir, seoulNoon, log)
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if n := strings.Count(out, "unknown account status"); n != 2 {
		t.Errorf("%d unknown-status lines, want 2 (SUSPENDED, VACATION):\n%s", n, out)
	}
	for _, want := range []string{`"status":"SUSPENDED","accounts":2`, `"status":"VACATION","accounts":2`, `"expired_date":"someday"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "CUSTOM") || strings.Contains(out, `"status":"ONLINE"`) {
		t.Errorf("a known status was logged:\n%s", out)
	}
	// Unknown statuses and unreadable dates are not guessed: still matched.
	for _, no := range []string{"2", "5"} {
		if r := m.Match(attendance.Punch{EmployeeNo: no}); r.Outcome != attendance.OutcomeMatched {
			t.Errorf("employee %s: %+v, want matched", no, r)
		}
	}
	buf.Reset()
	for i := 0; i < 3; i++ {
		m.Match(attendance.Punch{EmployeeNo: "2"})
	}
	if buf.Len() != 0 {
		t.Errorf("Match logged: %s", buf.String())
	}
}

func TestMatcherIsASnapshot(t *testing.T) {
	dir := []attendance.Employee{{EmployeeNo: "1", LoginID: "a", Aliases: []string{"X"}}}
	m, err := NewMatcher(Config{}, dir, seoulNoon, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir[0].EmployeeNo, dir[0].Aliases[0] = "2", "Y"
	r := m.Match(attendance.Punch{EmployeeNo: "X"})
	if r.Outcome != attendance.OutcomeMatched || r.Employee.EmployeeNo != "1" {
		t.Fatalf("after the caller changed its slice: %+v", r)
	}
	r.Employee.Aliases[0] = "Z"
	if r := m.Match(attendance.Punch{EmployeeNo: "X"}); r.Employee.Aliases[0] != "X" {
		t.Errorf("a result shares the snapshot's slices: %v", r.Employee.Aliases)
	}
}

func TestUnmatchedRecord(t *testing.T) {
	at := time.Date(2026, 4, 1, 8, 51, 2, 0, time.FixedZone("KST", 9*3600))
	p := attendance.Punch{EventID: "e1", Site: "lab", Vendor: "telecop", EmployeeNo: "120010", Name: "임예린", CardMasked: "****1234", OccurredAt: at}
	r := Result{Outcome: attendance.OutcomeAmbiguous, Candidates: []string{"a", "b"}, Reason: "2 candidates by number 00120010"}
	got := Unmatched(p, r)
	want := attendance.Unmatched{EventID: "e1", Site: "lab", Vendor: "telecop", EmployeeNo: "120010", Name: "임예린", CardMasked: "****1234", OccurredAt: at,
		Outcome: attendance.OutcomeAmbiguous, Candidates: []string{"a", "b"}, Reason: "2 candidates by number 00120010"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Unmatched = %+v, want %+v", got, want)
	}
}

func TestConfigFile(t *testing.T) {
	c, err := LoadConfig("testdata/match.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Sites) != 3 || c.CardKeyEnv != "ATTND_CARD_KEY" || c.Sites[1].Rules[0] != (Rule{Kind: RuleStripPrefix, Prefix: "1600"}) {
		t.Errorf("config = %+v", c)
	}
	if _, err := ParseConfig([]byte("sites:\n  - site: a\n    rule: []\n")); err == nil {
		t.Error("an unknown key was accepted")
	}
	if _, err := ParseConfig([]byte("sites:\n  - site: a\n    rules: [{kind: lower}]\n")); err == nil || !strings.Contains(err.Error(), "unknown rule kind") {
		t.Errorf("bad rule: err = %v", err)
	}
}

func TestDirectoryConfig(t *testing.T) {
	c, err := LoadConfig("testdata/match.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := c.Directory.Build([][]byte{testKey}, DaouConfig{}, nil, nil)
	if err != nil || len(ps) != 1 || ps[0].Name() != "roster roster.csv" || c.Directory.Refresh != time.Hour {
		t.Fatalf("providers %v, err %v, config %+v", ps, err, c.Directory)
	}
	good := DirectoryConfig{Providers: []ProviderConfig{{Kind: ProviderDaouV1}, {Kind: ProviderDaouV3}, {Kind: ProviderRoster, Path: "r.csv"}}}
	ps, err = good.Build(nil, DaouConfig{}, &fakeTokens{}, nil)
	if err != nil || len(ps) != 3 || !strings.HasPrefix(ps[0].Name(), "daou v1") || !strings.HasPrefix(ps[1].Name(), "daou v3") {
		t.Fatalf("providers %v, err %v", ps, err)
	}
	tests := []struct {
		name string
		d    DirectoryConfig
		want string
	}{
		{"none", DirectoryConfig{}, "none configured"},
		{"unknown kind", DirectoryConfig{Providers: []ProviderConfig{{Kind: "ldap"}}}, `unknown kind "ldap"`},
		{"roster without path", DirectoryConfig{Providers: []ProviderConfig{{Kind: ProviderRoster}}}, "roster needs a path"},
		{"daou with path", DirectoryConfig{Providers: []ProviderConfig{{Kind: ProviderDaouV1, Path: "x"}}}, "takes no path"},
		{"v3 without tokens", DirectoryConfig{Providers: []ProviderConfig{{Kind: ProviderDaouV3}}}, "needs a token source"},
		{"negative refresh", DirectoryConfig{Refresh: -time.Second}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.d.Build(nil, DaouConfig{}, nil, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := ParseConfig([]byte("directory:\n  providers: [{kind: ldap}]\n")); err == nil {
		t.Error("ParseConfig accepted an unknown provider kind")
	}
}

func TestCardKeys(t *testing.T) {
	env := map[string]string{"K1": "k1", "K2": "k2", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		global  string
		sites   []string // card_key_env of sites hq, lab
		want    string   // the keys, comma-separated
		wantErr string
	}{
		{"", nil, "", ""},
		{"K1", nil, "k1", ""},
		{"K1", []string{"", "K2"}, "k1,k2", ""},
		{"K1", []string{"K1", "K2"}, "k1,k2", ""},
		{"", []string{"K2", ""}, "k2", ""},
		{"EMPTY", nil, "", "card_key_env: environment variable EMPTY is not set"},
		{"K1", []string{"", "UNSET"}, "", "sites[1].card_key_env: environment variable UNSET is not set"},
	}
	for _, tt := range tests {
		c := Config{CardKeyEnv: tt.global}
		for i, e := range tt.sites {
			c.Sites = append(c.Sites, SiteRules{Site: []string{"hq", "lab"}[i], CardKeyEnv: e})
		}
		keys, err := c.CardKeys(lookup)
		var got []string
		for _, k := range keys {
			got = append(got, string(k))
		}
		if strings.Join(got, ",") != tt.want || (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("CardKeys(%q, %q) = %q, %v; want %q, %q", tt.global, tt.sites, got, err, tt.want, tt.wantErr)
		}
	}
}

// Sites whose ingest hashes cards with keys of their own find the same
// roster card: the roster is hashed with every key, and a hash made with a
// key the pusher does not have finds nobody.
func TestCardMatchWithPerSiteKeys(t *testing.T) {
	keyHQ, keyLab := []byte("hq-key"), []byte("lab-key")
	emps, err := ParseRoster(strings.NewReader("employee_no,login_id,name,card_numbers,aliases\n00120007,cho,조현우,0105550000A,\n"), keyHQ, keyLab)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Sites: []SiteRules{{Site: "hq"}, {Site: "lab"}}}
	m, err := NewMatcher(cfg, emps, seoulNoon, nil)
	if err != nil {
		t.Fatal(err)
	}
	card := parsekit.NormalizeCard("0105550000A")
	for _, p := range []attendance.Punch{
		{Site: "hq", CardHash: parsekit.CardHash(keyHQ, card)},
		{Site: "lab", CardHash: parsekit.CardHash(keyLab, card)},
	} {
		if r := m.Match(p); r.Outcome != attendance.OutcomeMatched || r.Employee.EmployeeNo != "00120007" {
			t.Errorf("site %s: %+v, want 00120007 by card", p.Site, r)
		}
	}
	if r := m.Match(attendance.Punch{Site: "lab", CardHash: parsekit.CardHash([]byte("other-key"), card)}); r.Outcome == attendance.OutcomeMatched {
		t.Errorf("a hash made with an unknown key matched %+v", r.Employee)
	}
}

func TestMatcherConcurrentUse(t *testing.T) {
	m, err := NewMatcher(testConfig(), testDirectory(), seoulNoon, nil)
	if err != nil {
		t.Fatal(err)
	}
	punches := []attendance.Punch{
		{Site: "factory", EmployeeNo: "160000120001"},
		{Site: "hq", CardHash: hash("0105550000A")},
		{Site: "lab", EmployeeNo: "120003"},
	}
	want := make([]Result, len(punches))
	for i, p := range punches {
		want[i] = m.Match(p)
	}
	done := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for n := 0; n < 200; n++ {
				i := n % len(punches)
				if got := m.Match(punches[i]); !reflect.DeepEqual(got, want[i]) {
					done <- fmt.Errorf("punch %d: %+v, want %+v", i, got, want[i])
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
