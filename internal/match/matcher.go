package match

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
)

// SiteRules are one site's normalization rules and override table.
type SiteRules struct {
	Site  string `yaml:"site" json:"site"`
	Rules []Rule `yaml:"rules" json:"rules"`
	// Overrides maps a vendor number, as written by the vendor program, to an
	// employee number. An override wins over the rules and the card.
	Overrides map[string]string `yaml:"overrides" json:"overrides"`
	// CardKeyEnv names the variable holding this site's card HMAC key when
	// the ingest hashes its cards with a key of its own (the ingest's
	// sites.<site>.card_key_env); empty is Config.CardKeyEnv.
	CardKeyEnv string `yaml:"card_key_env" json:"card_key_env"`
}

// Config is the matcher's YAML configuration.
type Config struct {
	Sites []SiteRules `yaml:"sites" json:"sites"`
	// CardKeyEnv names the environment variable holding the card HMAC key. It
	// must be the key the ingest hashes the sites' cards with (the ingest's
	// sites.<site>.card_key_env), or card fallback never finds anyone; a site
	// with a key of its own names it in sites[].card_key_env.
	CardKeyEnv string `yaml:"card_key_env" json:"card_key_env"`
	// InactiveStatuses are directory status values the operator declares as
	// "not matchable" (for example STOP once confirmed on the tenant). Empty
	// by default: a status is never guessed to mean "left".
	InactiveStatuses []string `yaml:"inactive_statuses" json:"inactive_statuses"`
	// KnownStatuses extends the status values that are not logged as unknown
	// (DefaultKnownStatuses are always known).
	KnownStatuses []string `yaml:"known_statuses" json:"known_statuses"`
	// Directory says where the accounts come from and how often they are refreshed.
	Directory DirectoryConfig `yaml:"directory" json:"directory"`
	// Location decides "today" for expiredDate; default Asia/Seoul.
	Location *time.Location `yaml:"-" json:"-"`
}

// DefaultKnownStatuses are the account status values integrators have seen
// (daou-openapi.md §8.2). Knowing a value only silences the log line; no
// status changes matching unless it is listed in Config.InactiveStatuses.
var defaultKnownStatuses = []string{"", "ONLINE", "OFFLINE", "NORMAL", "STOP", "DORMANT"}

// DefaultKnownStatuses returns the status values known without configuration.
func DefaultKnownStatuses() []string { return append([]string(nil), defaultKnownStatuses...) }

// CardKeys reads the card HMAC keys, each once: CardKeyEnv's and the
// sites' own (sites[].card_key_env), from lookup (normally os.LookupEnv).
// Roster cards are hashed with every key: a punch's card hash, made with
// its site's key, then finds the card, and a hash made with one key never
// equals one made with another. No variable configured is no key; a
// configured but empty variable is an error.
func (c Config) CardKeys(lookup func(string) (string, bool)) ([][]byte, error) {
	envs := []string{c.CardKeyEnv}
	for _, s := range c.Sites {
		envs = append(envs, s.CardKeyEnv)
	}
	var keys [][]byte
	seen := map[string]bool{}
	for i, env := range envs {
		if env == "" {
			continue
		}
		v, _ := lookup(env)
		if v == "" {
			field := "card_key_env"
			if i > 0 {
				field = fmt.Sprintf("sites[%d].card_key_env", i-1)
			}
			return nil, fmt.Errorf("match.%s: environment variable %s is not set", field, env)
		}
		if !seen[v] {
			seen[v] = true
			keys = append(keys, []byte(v))
		}
	}
	return keys, nil
}

// Validate checks the rules and overrides without a directory.
func (c Config) Validate() error {
	if _, err := compileSites(c.Sites); err != nil {
		return err
	}
	return c.Directory.validate()
}

// Result is the outcome of matching one punch.
type Result struct {
	Outcome    string              // attendance.OutcomeMatched, OutcomeAmbiguous or OutcomeUnmatched
	Employee   attendance.Employee // set when matched
	Candidates []string            // employee numbers, when ambiguous
	Reason     string              // how it matched, or why not; short, for the operator
}

type site struct {
	rules     ruleChain
	overrides map[string]string
}

func compileSites(sites []SiteRules) (map[string]site, error) {
	out := make(map[string]site, len(sites))
	for i, s := range sites {
		name := strings.TrimSpace(s.Site)
		if name == "" {
			return nil, fmt.Errorf("match: sites[%d]: site name is empty", i)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("match: site %s is configured twice", name)
		}
		st := site{overrides: make(map[string]string, len(s.Overrides))}
		for j, r := range s.Rules {
			cr, err := compileRule(r)
			if err != nil {
				return nil, fmt.Errorf("match: site %s rules[%d]: %w", name, j, err)
			}
			st.rules = append(st.rules, cr)
		}
		for from, to := range s.Overrides {
			from, to = strings.TrimSpace(from), strings.TrimSpace(to)
			if from == "" || to == "" {
				return nil, fmt.Errorf("match: site %s overrides: empty vendor or employee number (%q -> %q)", name, from, to)
			}
			st.overrides[from] = to
		}
		out[name] = st
	}
	return out, nil
}

// Matcher resolves punches against one directory snapshot with one rule
// set. It is immutable after NewMatcher and safe for concurrent use; build a
// new one when the directory or the rules change.
type Matcher struct {
	sites   map[string]site
	emps    []attendance.Employee
	gone    []string // per employee: why it is not matchable ("left 2026-03-31", "status STOP"), or ""
	byNo    map[string][]int
	byAlias map[string][]int
	byCard  map[string][]int
}

// NewMatcher compiles the rules and indexes the directory as of now. It logs
// once per snapshot each unknown status value and each unreadable
// expiredDate; neither is guessed (the account stays matchable).
func NewMatcher(cfg Config, dir []attendance.Employee, now time.Time, log *slog.Logger) (*Matcher, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sites, err := compileSites(cfg.Sites)
	if err != nil {
		return nil, err
	}
	loc := cfg.Location
	if loc == nil {
		loc = parsekit.Seoul()
	}
	today := now.In(loc).Format(time.DateOnly)
	known := map[string]bool{}
	for _, s := range defaultKnownStatuses {
		known[s] = true
	}
	inactive := map[string]bool{}
	for _, s := range cfg.KnownStatuses {
		known[strings.TrimSpace(s)] = true
	}
	for _, s := range cfg.InactiveStatuses {
		known[strings.TrimSpace(s)] = true
		inactive[strings.TrimSpace(s)] = true
	}
	m := &Matcher{
		sites:   sites,
		emps:    make([]attendance.Employee, 0, len(dir)),
		byNo:    map[string][]int{},
		byAlias: map[string][]int{},
		byCard:  map[string][]int{},
	}
	type seen struct {
		n       int
		example string
	}
	unknownStatus := map[string]*seen{}
	badDates := map[string]*seen{}
	for _, e := range dir {
		e.EmployeeNo = strings.TrimSpace(e.EmployeeNo)
		if e.EmployeeNo == "" {
			continue // not a push target
		}
		e.CardHashes = append([]string(nil), e.CardHashes...)
		e.Aliases = append([]string(nil), e.Aliases...)
		status := strings.TrimSpace(e.Status)
		if !known[status] {
			s := unknownStatus[status]
			if s == nil {
				s = &seen{example: e.EmployeeNo}
				unknownStatus[status] = s
			}
			s.n++
		}
		gone := ""
		if exp := strings.TrimSpace(e.ExpiredDate); exp != "" {
			if d, ok := parseDate(exp); !ok {
				s := badDates[exp]
				if s == nil {
					s = &seen{example: e.EmployeeNo}
					badDates[exp] = s
				}
				s.n++
			} else if d <= today {
				gone = "left " + d
			}
		}
		if gone == "" && inactive[status] {
			gone = "status " + status
		}
		i := len(m.emps)
		m.emps = append(m.emps, e)
		m.gone = append(m.gone, gone)
		m.byNo[e.EmployeeNo] = append(m.byNo[e.EmployeeNo], i)
		for _, a := range e.Aliases {
			if a = strings.TrimSpace(a); a != "" {
				m.byAlias[a] = appendOnce(m.byAlias[a], i)
			}
		}
		for _, h := range e.CardHashes {
			if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
				m.byCard[h] = appendOnce(m.byCard[h], i)
			}
		}
	}
	for _, st := range sortedKeys(unknownStatus) {
		s := unknownStatus[st]
		log.Warn("match: unknown account status, not interpreted", "status", st, "accounts", s.n, "example_employee_no", s.example)
	}
	for _, d := range sortedKeys(badDates) {
		s := badDates[d]
		log.Warn("match: unreadable expiredDate, account kept matchable", "expired_date", d, "accounts", s.n, "example_employee_no", s.example)
	}
	return m, nil
}

func sortedKeys[V any](mp map[string]V) []string {
	keys := make([]string, 0, len(mp))
	for k := range mp {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func appendOnce(s []int, i int) []int {
	if len(s) > 0 && s[len(s)-1] == i {
		return s
	}
	return append(s, i)
}

// parseDate reads an expiredDate as YYYY-MM-DD. It accepts the documented
// YYYY-MM-DD, a date-time starting with it, and YYYYMMDD.
// ASSUMPTION: the v3 user list documents expiredDate as YYYY-MM-DD; the other
// shapes are tolerated because no sample response was seen.
func parseDate(s string) (string, bool) {
	if len(s) >= 10 {
		if t, err := time.Parse(time.DateOnly, s[:10]); err == nil && (len(s) == 10 || s[10] == ' ' || s[10] == 'T') {
			return t.Format(time.DateOnly), true
		}
	}
	if len(s) == 8 && allDigits(s) {
		if t, err := time.Parse("20060102", s); err == nil {
			return t.Format(time.DateOnly), true
		}
	}
	return "", false
}

// Len is the number of accounts in the snapshot.
func (m *Matcher) Len() int { return len(m.emps) }

// Match resolves a punch: the site's override table first, then the
// employee number (and aliases) after the site's rules, then the card hash
// when the number is empty or matches nobody. Several distinct active
// candidates are ambiguous; people who left are never matched.
func (m *Matcher) Match(p attendance.Punch) Result {
	st := m.sites[p.Site]
	raw := strings.TrimSpace(p.EmployeeNo)
	if raw != "" {
		if to, ok := st.overrides[raw]; ok {
			cand := m.byNo[to]
			if len(cand) == 0 {
				return Result{Outcome: attendance.OutcomeUnmatched, Reason: fmt.Sprintf("override %s -> %s: no such employee", raw, to)}
			}
			return m.resolve(cand, "override "+raw+" -> "+to)
		}
		norm := st.rules.apply(raw)
		var cand []int
		cand = union(cand, m.byNo[norm])
		cand = union(cand, m.byAlias[norm])
		cand = union(cand, m.byAlias[raw])
		if len(cand) > 0 {
			via := "number " + norm
			if len(m.byNo[norm]) == 0 {
				via = "alias " + norm
				if len(m.byAlias[norm]) == 0 {
					via = "alias " + raw
				}
			}
			return m.resolve(cand, via)
		}
	}
	hash := strings.ToLower(strings.TrimSpace(p.CardHash))
	if hash != "" {
		if cand := m.byCard[hash]; len(cand) > 0 {
			return m.resolve(cand, "card "+p.CardMasked)
		}
	}
	var why string
	switch {
	case raw == "":
		why = "no employee number"
	case len(st.rules) == 0:
		why = fmt.Sprintf("no employee %s (no rules for site %s)", raw, p.Site)
	default:
		why = fmt.Sprintf("no employee %s after rules %s", raw, st.rules)
		if norm := st.rules.apply(raw); norm != raw {
			why += " (tried " + norm + ")"
		}
	}
	switch {
	case hash != "":
		why += "; card " + p.CardMasked + " unknown"
	case p.CardMasked != "":
		why += "; card " + p.CardMasked + " not hashed (no card key)"
	case raw == "":
		why += " and no card"
	}
	return Result{Outcome: attendance.OutcomeUnmatched, Reason: why}
}

// resolve turns candidate accounts into an outcome: leavers are dropped,
// one left over is a match, several are ambiguous.
func (m *Matcher) resolve(cand []int, via string) Result {
	var active []int
	var gone []int
	for _, i := range cand {
		if m.gone[i] == "" {
			active = append(active, i)
		} else {
			gone = append(gone, i)
		}
	}
	switch len(active) {
	case 1:
		e := m.emps[active[0]]
		e.CardHashes = append([]string(nil), e.CardHashes...) // the snapshot stays immutable
		e.Aliases = append([]string(nil), e.Aliases...)
		return Result{Outcome: attendance.OutcomeMatched, Employee: e, Reason: via}
	case 0:
		e := m.emps[gone[0]]
		why := m.gone[gone[0]] + " (" + e.EmployeeNo + ")"
		if len(gone) > 1 {
			why += fmt.Sprintf(" and %d more inactive", len(gone)-1)
		}
		return Result{Outcome: attendance.OutcomeUnmatched, Reason: why}
	}
	nos := map[string]int{}
	for _, i := range active {
		nos[m.emps[i].EmployeeNo]++
	}
	cands := make([]string, 0, len(active))
	for _, i := range active {
		e := m.emps[i]
		c := e.EmployeeNo
		if nos[c] > 1 { // one employee number on several accounts
			c += "/" + e.LoginID
		}
		cands = append(cands, c)
	}
	sort.Strings(cands)
	return Result{Outcome: attendance.OutcomeAmbiguous, Candidates: cands, Reason: fmt.Sprintf("%d candidates by %s", len(active), via)}
}

func union(a, b []int) []int {
next:
	for _, x := range b {
		for _, y := range a {
			if x == y {
				continue next
			}
		}
		a = append(a, x)
	}
	return a
}

// Unmatched is the record of an ambiguous or unmatched punch for the
// unmatched topic and table.
func Unmatched(p attendance.Punch, r Result) attendance.Unmatched {
	return attendance.Unmatched{
		EventID:    p.EventID,
		Site:       p.Site,
		Vendor:     p.Vendor,
		EmployeeNo: p.EmployeeNo,
		Name:       p.Name,
		CardMasked: p.CardMasked,
		OccurredAt: p.OccurredAt,
		Outcome:    r.Outcome,
		Candidates: append([]string(nil), r.Candidates...),
		Reason:     r.Reason,
	}
}
