// Package sample generates realistic vendor drops for a fictional company:
// three sites, one per vendor, in their real layouts and encodings (ADT Caps
// hourly event files in CP949, a Secom T_SECOM_ALARM copy in UTF-8, KT
// Telecop tb_workresult exports in CP949), with vendor employee numbers that
// differ from HR's, a few unmatched people, night shifts, duplicate taps,
// failed authentications, forgotten clock-outs and a few garbage rows.
//
// Alongside the drops it writes the HR roster (for the directory and the
// groupware simulator) and the ground truth: every punch the parsers must
// emit and every working day the pipeline must push, computed from the
// generator's own schedule, not by the pipeline's derivation code.
// Output is deterministic for a given Config.
package sample

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/text/encoding/korean"
)

// Config says what to generate.
type Config struct {
	Dir       string    // output folder; drops go to Dir/drops/<site>/
	From, To  time.Time // dates (inclusive), local midnight in Location
	People    int       // HR employees in the roster (default 300)
	Unmatched int       // extra vendor users per site missing from HR (default 3)
	Seed      uint64
	Location  *time.Location
	BadRows   bool // add garbage rows (default true via Defaults)
	Weekends  bool // generate weekend days too
}

// Sites of the fictional company and their vendor layouts.
var Sites = []SiteInfo{
	{Name: "hq", Vendor: "adtcaps", Layout: "caps-event-txt"},
	{Name: "factory", Vendor: "secom", Layout: "secom-alarm-csv"},
	{Name: "lab", Vendor: "telecop", Layout: "telecop-workresult-csv"},
}

// SiteInfo names a site's vendor and layout.
type SiteInfo struct{ Name, Vendor, Layout string }

// Day is one expected working day.
type Day struct {
	Site       string `json:"site"`
	EmployeeNo string `json:"employee_no"` // HR / Daou number
	WorkingDay string `json:"working_day"`
	ClockIn    string `json:"clock_in,omitempty"`  // RFC 3339
	ClockOut   string `json:"clock_out,omitempty"` // RFC 3339; empty = missing_out
}

// Truth is what the pipeline must produce from the drops.
type Truth struct {
	Punches          int      `json:"punches"`           // rows the parsers must emit as punches
	Rejects          int      `json:"rejects"`           // garbage rows
	UnmatchedVendors []string `json:"unmatched_vendors"` // site/vendor numbers with no HR match
	Days             []Day    `json:"days"`              // matched working days, sorted
	Files            []string `json:"files"`
}

type person struct {
	hr, login, name, card string
	site                  int
	vendorNo              string
	night                 bool
	inRoster              bool
}

// Roster column header (internal/match reads it).
const RosterHeader = "employee_no,login_id,name,card_numbers,aliases"

// Generate writes the drops, roster.csv and truth.json under cfg.Dir.
func Generate(cfg Config) (*Truth, error) {
	if cfg.People <= 0 {
		cfg.People = 300
	}
	if cfg.Unmatched < 0 {
		cfg.Unmatched = 0
	}
	if cfg.Location == nil {
		cfg.Location = time.FixedZone("KST", 9*3600)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	people := makePeople(cfg, rng)
	g := &gen{cfg: cfg, rng: rng, truth: &Truth{}, open: map[string]*outFile{}}
	for _, s := range Sites {
		if err := os.MkdirAll(filepath.Join(cfg.Dir, "drops", s.Name), 0o755); err != nil {
			return nil, fmt.Errorf("sample: %w", err)
		}
	}
	for d := cfg.From; !d.After(cfg.To); d = d.AddDate(0, 0, 1) {
		if !cfg.Weekends && (d.Weekday() == time.Saturday || d.Weekday() == time.Sunday) {
			continue
		}
		for i := range people {
			g.personDay(&people[i], d)
		}
		if cfg.BadRows {
			g.garbage(d)
		}
		if err := g.flushDay(); err != nil {
			return nil, err
		}
	}
	if err := writeRoster(filepath.Join(cfg.Dir, "roster.csv"), people); err != nil {
		return nil, err
	}
	for _, p := range people {
		if !p.inRoster {
			g.truth.UnmatchedVendors = append(g.truth.UnmatchedVendors, Sites[p.site].Name+"/"+p.vendorNo)
		}
	}
	sort.Strings(g.truth.UnmatchedVendors)
	sort.Slice(g.truth.Days, func(i, j int) bool {
		a, b := g.truth.Days[i], g.truth.Days[j]
		if a.EmployeeNo != b.EmployeeNo {
			return a.EmployeeNo < b.EmployeeNo
		}
		return a.WorkingDay < b.WorkingDay
	})
	sort.Strings(g.truth.Files)
	b, _ := json.MarshalIndent(g.truth, "", " ")
	if err := os.WriteFile(filepath.Join(cfg.Dir, "truth.json"), b, 0o644); err != nil {
		return nil, fmt.Errorf("sample: write truth: %w", err)
	}
	return g.truth, nil
}

var surnames = []string{"김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "한", "오", "서", "신", "권", "황"}
var givens = []string{"민수", "서연", "지훈", "하은", "도윤", "지우", "현우", "수아", "준호", "예린", "성민", "유진", "재영", "다은", "태현", "소율"}

func makePeople(cfg Config, rng *rand.Rand) []person {
	var ps []person
	for i := 0; i < cfg.People; i++ {
		p := person{
			hr:       fmt.Sprintf("%08d", 120000+i), // HR numbers keep leading zeros: 00120000
			login:    fmt.Sprintf("user%04d", i),
			name:     surnames[rng.IntN(len(surnames))] + givens[rng.IntN(len(givens))],
			card:     fmt.Sprintf("010%08d%02d", rng.IntN(1e8), rng.IntN(100)),
			site:     i % len(Sites),
			inRoster: true,
		}
		p.vendorNo = vendorNumber(p.site, p.hr)
		p.night = p.site == 1 && i%10 == 1 // factory night shift 22:00-06:00
		ps = append(ps, p)
	}
	for s := range Sites {
		for k := 0; k < cfg.Unmatched; k++ {
			p := person{
				hr:   fmt.Sprintf("%08d", 990000+s*100+k), // contractors not in HR
				name: surnames[rng.IntN(len(surnames))] + givens[rng.IntN(len(givens))],
				card: fmt.Sprintf("010%08d%02d", rng.IntN(1e8), rng.IntN(100)),
				site: s,
			}
			p.vendorNo = vendorNumber(s, p.hr)
			ps = append(ps, p)
		}
	}
	return ps
}

// vendorNumber is how each vendor program has the HR number typed in:
// Caps as is, Secom with the company-code prefix 1600, Telecop with its
// leading zeros lost (the MS Access column is numeric-looking).
func vendorNumber(site int, hr string) string {
	switch site {
	case 1:
		return "1600" + hr
	case 2:
		return strings.TrimLeft(hr, "0")
	}
	return hr
}

type punch struct {
	at     time.Time
	mode   string // in, out, pass
	authOK bool
}

type gen struct {
	cfg   Config
	rng   *rand.Rand
	truth *Truth
	open  map[string]*outFile
	rows  []row
}

type row struct {
	site  int
	p     *person
	punch punch
}

func (g *gen) personDay(p *person, d time.Time) {
	r := g.rng
	if r.IntN(100) < 4 { // day off
		return
	}
	start := d.Add(8*time.Hour + 20*time.Minute + time.Duration(r.IntN(70*60))*time.Second)
	end := d.Add(18*time.Hour + time.Duration(r.IntN(90*60))*time.Second)
	if p.night {
		start = d.Add(21*time.Hour + 40*time.Minute + time.Duration(r.IntN(30*60))*time.Second)
		end = d.Add(30*time.Hour + time.Duration(r.IntN(30*60))*time.Second) // 06:00-06:30 next day
	}
	var ps []punch
	if r.IntN(100) < 30 { // the gate pass before pressing 출근
		ps = append(ps, punch{at: start.Add(-time.Duration(30+r.IntN(200)) * time.Second), mode: "pass", authOK: true})
	}
	if p.site == 2 && r.IntN(100) < 5 { // a failed fingerprint just before the good one
		ps = append(ps, punch{at: start.Add(-4 * time.Second), mode: "in", authOK: false})
	}
	ps = append(ps, punch{at: start, mode: "in", authOK: true})
	if r.IntN(100) < 8 { // duplicate tap
		ps = append(ps, punch{at: start.Add(time.Duration(2+r.IntN(20)) * time.Second), mode: "in", authOK: true})
	}
	if !p.night && r.IntN(100) < 50 { // lunch passes
		l := d.Add(12*time.Hour + time.Duration(r.IntN(40*60))*time.Second)
		ps = append(ps, punch{at: l, mode: "pass", authOK: true}, punch{at: l.Add(time.Duration(20+r.IntN(30)) * time.Minute), mode: "pass", authOK: true})
	}
	forgot := r.IntN(100) < 3
	if !forgot {
		ps = append(ps, punch{at: end, mode: "out", authOK: true})
	}
	for _, x := range ps {
		g.rows = append(g.rows, row{site: p.site, p: p, punch: x})
	}
	g.truth.Punches += len(ps)
	if p.inRoster {
		day := Day{Site: Sites[p.site].Name, EmployeeNo: p.hr, WorkingDay: d.Format("2006-01-02"), ClockIn: start.Format(time.RFC3339)}
		if !forgot {
			day.ClockOut = end.Format(time.RFC3339)
		}
		g.truth.Days = append(g.truth.Days, day)
	}
}

func (g *gen) garbage(d time.Time) {
	// One bad row per site per day, at 08:30 among the arrivals: a drop that
	// held nothing but garbage would rightly be a file-level error instead.
	at := d.Add(8*time.Hour + 30*time.Minute)
	for s := range Sites {
		g.rows = append(g.rows, row{site: s, punch: punch{at: at, mode: "garbage"}})
		g.truth.Rejects++
	}
}

// flushDay writes the day's rows into their files in time order (the vendor
// programs write in tag order).
func (g *gen) flushDay() error {
	sort.SliceStable(g.rows, func(i, j int) bool { return g.rows[i].punch.at.Before(g.rows[j].punch.at) })
	for _, rw := range g.rows {
		f, err := g.file(rw.site, rw.punch.at)
		if err != nil {
			return err
		}
		f.line(formatRow(rw))
	}
	g.rows = g.rows[:0]
	for name, f := range g.open {
		if err := f.close(); err != nil {
			return err
		}
		delete(g.open, name)
	}
	return nil
}

func (g *gen) file(site int, at time.Time) (*outFile, error) {
	local := at.In(g.cfg.Location)
	var name string
	cp949, header := false, ""
	switch site {
	case 0: // hourly event file written at minute 28
		name = fmt.Sprintf("caps_events_%s_%02d28.txt", local.Format("20060102"), local.Hour())
		cp949 = true
	case 1:
		name = fmt.Sprintf("T_SECOM_ALARM_%s.csv", local.Format("20060102"))
		header = "ATime,ID,EqCode,Master,Param,Ack,AckUser,AckTime,AckContent,Transfer,AckMode,CardNo,Name,State,Flag1,Flag2,Flag3,Flag4,InsertTime,UpdateTime,Version,Sabun"
	case 2:
		name = fmt.Sprintf("tb_workresult_%s.csv", local.Format("20060102"))
		cp949 = true
		header = "date_Attestation,str_Week,str_workempNum,str_workempName,str_Mode,str_accTerminalPlace,str_ValidationStatus"
	}
	path := filepath.Join(g.cfg.Dir, "drops", Sites[site].Name, name)
	if f := g.open[path]; f != nil {
		return f, nil
	}
	f, err := openOut(path, cp949)
	if err != nil {
		return nil, err
	}
	if header != "" && f.fresh {
		f.line(header)
	}
	g.open[path] = f
	rel, _ := filepath.Rel(g.cfg.Dir, path)
	if f.fresh {
		g.truth.Files = append(g.truth.Files, rel)
	}
	return f, nil
}

var weekdays = []string{"일", "월", "화", "수", "목", "금", "토"}

func formatRow(rw row) string {
	p, x := rw.p, rw.punch
	switch rw.site {
	case 0:
		if x.mode == "garbage" {
			return "0928151 NOT A TAG LINE ?"
		}
		code := map[string]string{"in": "1", "out": "2", "pass": "5"}[x.mode]
		card := p.card
		if p.hr[len(p.hr)-1] < '3' { // fingerprint users: all-zero card
			card = "0000000000000"
		}
		term := "0001"
		if x.mode == "pass" {
			term = "0005"
		}
		return x.at.Format("150405") + p.vendorNo + p.name + code + card + term + x.at.Format("20060102150405")
	case 1:
		if x.mode == "garbage" {
			return "2024XX,broken,row"
		}
		flag := map[string]string{"in": "1", "out": "4", "pass": "0"}[x.mode]
		stamp := x.at.Format("20060102150405")
		return fmt.Sprintf("%s,%d,1000,2,0,0,,,,0,0,%s,%s,W,%s,0,0,0,%s,%s,9.0.1,%s",
			stamp, x.at.Unix()%100000, p.card, p.name, flag, stamp, stamp, p.vendorNo)
	default:
		if x.mode == "garbage" {
			return "2024-13-45 오전 99:99:99,?,,,,,"
		}
		mode := map[string]string{"in": "출근", "out": "퇴근", "pass": "출입"}[x.mode]
		status := "성공"
		if !x.authOK {
			status = "실패"
		}
		place := "정문"
		if x.mode == "pass" {
			place = "연구1층출입문내부"
		}
		ampm, h := "오전", x.at.Hour()
		if h >= 12 {
			ampm = "오후"
		}
		if h%12 == 0 {
			h = 12
		} else {
			h %= 12
		}
		return fmt.Sprintf("%s %s %d:%s,%s,%s,%s,%s,%s,%s", x.at.Format("2006-01-02"), ampm, h, x.at.Format("04:05"),
			weekdays[x.at.Weekday()], p.vendorNo, p.name, mode, place, status)
	}
}

type outFile struct {
	f     *os.File
	w     *bufio.Writer
	enc   io.Writer
	fresh bool
	err   error
}

func openOut(path string, cp949 bool) (*outFile, error) {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	o := &outFile{f: f, w: bufio.NewWriterSize(f, 256<<10), fresh: os.IsNotExist(statErr)}
	o.enc = o.w
	if cp949 {
		o.enc = korean.EUCKR.NewEncoder().Writer(o.w)
	}
	return o, nil
}

func (o *outFile) line(s string) {
	if o.err == nil {
		_, o.err = io.WriteString(o.enc, s+"\r\n")
	}
}

func (o *outFile) close() error {
	if c, ok := o.enc.(io.Closer); ok && o.err == nil {
		o.err = c.Close()
	}
	if err := o.w.Flush(); err != nil && o.err == nil {
		o.err = err
	}
	if err := o.f.Close(); err != nil && o.err == nil {
		o.err = err
	}
	if o.err != nil {
		return fmt.Errorf("sample: write %s: %w", o.f.Name(), o.err)
	}
	return nil
}

func writeRoster(path string, people []person) error {
	var b strings.Builder
	b.WriteString(RosterHeader + "\n")
	for _, p := range people {
		if p.inRoster {
			fmt.Fprintf(&b, "%s,%s,%s,%s,\n", p.hr, p.login, p.name, p.card)
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("sample: write roster: %w", err)
	}
	return nil
}
