// Package demo runs the whole pipeline on the embedded engines: sample drops
// for a fictional company through a watched folder and an FTP drop, the
// ingest, the pusher with its history writer, the Daou simulator; it waits
// until every matched day is in the simulator's middle database and checks
// the result against the generator's ground truth. `make demo` runs it at
// full size; the end-to-end test runs it small, over a real Kafka broker.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/consume"
	"github.com/attendance-pipeline/attnd/internal/daousim"
	"github.com/attendance-pipeline/attnd/internal/devstack"
	"github.com/attendance-pipeline/attnd/internal/ingest"
	"github.com/attendance-pipeline/attnd/internal/match"
	"github.com/attendance-pipeline/attnd/internal/obs"
	"github.com/attendance-pipeline/attnd/internal/pusher"
	"github.com/attendance-pipeline/attnd/internal/report"
	"github.com/attendance-pipeline/attnd/internal/sample"
)

// Options size and place a run.
type Options struct {
	Dir       string    // everything goes under it; emptied first
	Day       time.Time // the day of drops (local date)
	Days      int       // number of days from Day (default 1)
	People    int       // default 300
	Seed      uint64
	Kafka     string        // a broker to use instead of devstack's in-process one
	RepoRoot  string        // to find scripts/vsftpd.sh
	Timeout   time.Duration // for the pipeline to settle (default 5m)
	Log       *slog.Logger
	Out       io.Writer // the summary
	KeepGoing bool      // leave ingest and pusher running (daemon demo); not used by tests
}

// Summary is what a run produced, next to what the generator expected.
type Summary struct {
	Files, Punches, Rejects        int
	WantPunches, WantRejects       int
	HistoryPunches, HistoryRejects uint64
	UnmatchedPeople, WantUnmatched int
	Unmatched, WantUnmatchedSet    []string // site/vendor number: in ClickHouse, and people the generator left out of HR
	DaysExpected, DaysAccepted     int
	DaysWrong                      []string // employee/day: what differs
	IdenticalResends               int
}

const (
	clientID     = "demo-client"
	clientSecret = "demo-secret"
	cardKey      = "demo-card-key"
	database     = "attendance"
)

// Run executes the demo and returns its summary; the error says what did not
// happen (the summary is filled as far as it got).
func Run(ctx context.Context, o Options) (*Summary, error) {
	if o.People == 0 {
		o.People = 300
	}
	if o.Days == 0 {
		o.Days = 1
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.Log == nil {
		o.Log = obs.Discard()
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	say := func(format string, a ...any) { fmt.Fprintf(o.Out, format+"\n", a...) }
	if err := os.RemoveAll(o.Dir); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	o.Dir = abs
	s := &Summary{}

	// 1. The company's drops, roster and ground truth.
	loc := time.FixedZone("KST", 9*3600)
	if l, err := time.LoadLocation("Asia/Seoul"); err == nil {
		loc = l
	}
	day := time.Date(o.Day.Year(), o.Day.Month(), o.Day.Day(), 0, 0, 0, 0, loc)
	gen := filepath.Join(o.Dir, "sample")
	truth, err := sample.Generate(sample.Config{Dir: gen, From: day, To: day.AddDate(0, 0, o.Days-1), People: o.People, Unmatched: 3,
		Seed: o.Seed, Location: loc, BadRows: true, Weekends: true})
	if err != nil {
		return nil, err
	}
	s.WantPunches, s.WantRejects, s.WantUnmatched, s.DaysExpected = truth.Punches, truth.Rejects, len(truth.UnmatchedVendors), len(truth.Days)
	s.WantUnmatchedSet = truth.UnmatchedVendors
	say("generated %d files for %d people on 3 sites (%s): %d punches, %d bad rows, %d people missing from HR",
		len(truth.Files), o.People, day.Format("2006-01-02"), truth.Punches, truth.Rejects, len(truth.UnmatchedVendors))
	os.Setenv("ATTND_CARD_KEY", cardKey)
	os.Setenv("DAOU_DEMO_SECRET", clientSecret)

	// 2. The engines: Kafka, ClickHouse over HTTP, the Daou simulator.
	accounts, err := simAccounts(ctx, filepath.Join(gen, "roster.csv"))
	if err != nil {
		return nil, err
	}
	sim := daousim.New(daousim.Options{ClientID: clientID, ClientSecret: clientSecret, Employees: accounts, BlockAfter: 3, SyncOnWrite: true, Location: loc})
	defer sim.Close()
	stack, err := devstack.Start(ctx, devstack.Config{Dir: filepath.Join(o.Dir, "devstack"), Daou: sim})
	if err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	defer stack.Close()
	broker := stack.Kafka
	if o.Kafka != "" {
		broker = o.Kafka
	}
	say("engines: kafka %s, clickhouse %s, daou simulator %s", broker, stack.ClickHouseHTTP, stack.Daou)

	// 3. The drops: hq and lab into watched folders, factory onto vsftpd.
	ftpDir := filepath.Join(o.Dir, "ftp")
	ftpURL, stopFTP, err := startFTP(ctx, o.RepoRoot, ftpDir)
	if err != nil {
		return nil, err
	}
	defer stopFTP()
	for _, site := range []string{"hq", "lab"} {
		if err := copyDir(filepath.Join(gen, "drops", site), filepath.Join(o.Dir, "drops", site)); err != nil {
			return nil, err
		}
	}
	if err := copyDir(filepath.Join(gen, "drops", "factory"), filepath.Join(ftpDir, "root", "factory")); err != nil {
		return nil, err
	}
	pw, err := os.ReadFile(filepath.Join(ftpDir, "password"))
	if err != nil {
		return nil, err
	}
	os.Setenv("DEMO_FTP_PASSWORD", strings.TrimSpace(string(pw)))

	// 4. The ingest, once over everything that is there.
	icfg, err := ingest.ParseConfig([]byte(fmt.Sprintf(ingestYAML, filepath.Join(o.Dir, "ingest"), broker,
		filepath.Join(o.Dir, "drops", "hq"), filepath.Join(o.Dir, "drops", "lab"), ftpURL+"/factory")), nil)
	if err != nil {
		return nil, fmt.Errorf("ingest config: %w", err)
	}
	im := obs.NewIngestMetrics(prometheus.NewRegistry())
	in, err := ingest.New(ctx, icfg, ingest.Factories(im), o.Log.With(obs.KeyComponent, "ingest"), im)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	start := time.Now()
	if err := in.Start(ctx); err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	if err := in.Once(ctx, 300*time.Millisecond); err != nil {
		return nil, fmt.Errorf("ingest --once: %w", err)
	}
	files, err := in.Ledger().All(ctx)
	if err == nil {
		for _, f := range files {
			if f.State != attendance.FileDone {
				say("file %s is %s: %s", f.Path, f.State, f.Reason)
				continue
			}
			s.Files++
			s.Punches += f.Punches
			s.Rejects += f.Rejects
		}
	}
	say("ingest: %d files, %d punches, %d rejects on Kafka in %s", s.Files, s.Punches, s.Rejects, time.Since(start).Round(time.Millisecond))

	// 5. The pusher (with the history writer) until every expected day is in Daou.
	u, _ := url.Parse(stack.ClickHouseHTTP)
	pcfg, err := pusher.ParseConfig([]byte(fmt.Sprintf(pusherYAML, filepath.Join(o.Dir, "pusher"), broker, u.Host, database,
		stack.Daou, clientID, filepath.Join(gen, "roster.csv"))), nil)
	if err != nil {
		return nil, fmt.Errorf("pusher config: %w", err)
	}
	d, err := pusher.Start(ctx, pcfg, nil, o.Log.With(obs.KeyComponent, "pusher"), prometheus.NewRegistry())
	if err != nil {
		return nil, fmt.Errorf("pusher: %w", err)
	}
	defer d.Close()
	want := map[string]sample.Day{}
	for _, dd := range truth.Days {
		want[dd.EmployeeNo+"/"+dd.WorkingDay] = dd
	}
	diff := func() (accepted int, wrong []string) {
		recs := sim.Records()
		for k, w := range want {
			r, ok := recs[daousim.Key{EmployeeNumber: w.EmployeeNo, WorkingDay: w.WorkingDay}]
			switch {
			case !ok:
				wrong = append(wrong, k+": not in Daou")
			case r.ClockIn != daouTime(w.ClockIn, loc) || r.ClockOut != daouTime(w.ClockOut, loc):
				wrong = append(wrong, fmt.Sprintf("%s: Daou has %q-%q, want %s-%s", k, r.ClockIn, r.ClockOut, w.ClockIn, w.ClockOut))
			default:
				accepted++
			}
		}
		return accepted, wrong
	}
	deadline := time.After(o.Timeout)
	stopped := make(chan error, 1)
	go func() { stopped <- d.Wait() }()
	for {
		s.DaysAccepted, s.DaysWrong = diff()
		if len(s.DaysWrong) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case err := <-stopped:
			return s, fmt.Errorf("pusher stopped: %v", err)
		case <-deadline:
		case <-time.After(250 * time.Millisecond):
			continue
		}
		break
	}
	s.IdenticalResends = sim.IdenticalResends()
	sort.Strings(s.DaysWrong)
	say("pusher: %d of %d expected days accepted by Daou in %s (%d wrong or missing, %d identical resends)",
		s.DaysAccepted, len(want), time.Since(start).Round(time.Millisecond), len(s.DaysWrong), s.IdenticalResends)

	// 6. The history and the reports.
	conn, err := clickhouse.Open(&clickhouse.Options{Protocol: clickhouse.HTTP, Addr: []string{u.Host}, Auth: clickhouse.Auth{Database: database}})
	if err != nil {
		return s, err
	}
	defer conn.Close()
	hctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	// The history writer is done when its group has committed every message
	// of its topics (it commits only after the insert).
	kc := &kafka.Client{Addr: kafka.TCP(broker), Timeout: 10 * time.Second}
	for {
		s.HistoryPunches, _ = count(hctx, conn, "SELECT count() FROM "+database+".punches FINAL")
		s.HistoryRejects, _ = count(hctx, conn, "SELECT count() FROM "+database+".rejects FINAL")
		if hctx.Err() != nil {
			break
		}
		if lag, err := consume.TopicLag(hctx, kc, pcfg.History.GroupID, pcfg.HistoryTopics().List()); err == nil && int(s.HistoryPunches) >= s.Punches {
			var total int64
			for _, n := range lag {
				total += n
			}
			if total == 0 {
				break
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	if rows, err := conn.Query(hctx, "SELECT DISTINCT concat(site, '/', employee_no) AS k FROM "+database+".unmatched FINAL WHERE employee_no != '' ORDER BY k"); err == nil {
		for rows.Next() {
			var k string
			if rows.Scan(&k) == nil {
				s.Unmatched = append(s.Unmatched, k)
			}
		}
		rows.Close()
	}
	s.UnmatchedPeople = len(s.Unmatched)
	say("history: %d punches, %d rejects, %d unmatched people in ClickHouse", s.HistoryPunches, s.HistoryRejects, s.UnmatchedPeople)
	from, to := day.Format("2006-01-02"), day.AddDate(0, 0, o.Days-1).Format("2006-01-02")
	for _, name := range []string{"late", "missing", "unmatched"} {
		t, err := report.Run(hctx, conn, database, name, report.Params{From: from, To: to})
		if err != nil {
			say("report %s: %v", name, err)
			continue
		}
		if len(t.Rows) > 5 {
			say("\n%s (%d rows, first 5):", name, len(t.Rows))
			t.Rows = t.Rows[:5]
		} else {
			say("\n%s (%d rows):", name, len(t.Rows))
		}
		report.Write(o.Out, t, "table")
	}
	say("\ndata left in %s (devstack/stack.json has the addresses while it runs)", o.Dir)
	return s, s.check()
}

func (s *Summary) check() error {
	var errs []error
	if s.Punches != s.WantPunches || s.Rejects != s.WantRejects {
		errs = append(errs, fmt.Errorf("ingest: %d punches and %d rejects, want %d and %d", s.Punches, s.Rejects, s.WantPunches, s.WantRejects))
	}
	if len(s.DaysWrong) > 0 {
		errs = append(errs, fmt.Errorf("%d days wrong or missing in Daou, first: %s", len(s.DaysWrong), s.DaysWrong[0]))
	}
	if s.IdenticalResends > 0 {
		errs = append(errs, fmt.Errorf("%d identical resends to Daou", s.IdenticalResends))
	}
	return errors.Join(errs...)
}

// daouTime is an RFC 3339 time as the simulator stores it (its default
// field format, Seoul wall clock); "" stays "".
// simAccounts reads the generated roster as the Daou simulator's accounts.
func simAccounts(ctx context.Context, roster string) ([]daousim.Employee, error) {
	emps, err := match.RosterFile(roster, []byte(cardKey)).Employees(ctx)
	if err != nil {
		return nil, err
	}
	accounts := make([]daousim.Employee, 0, len(emps))
	for _, e := range emps {
		accounts = append(accounts, daousim.Employee{EmployeeNumber: e.EmployeeNo, LoginID: e.LoginID, Name: e.Name})
	}
	return accounts, nil
}

func daouTime(rfc string, loc *time.Location) string {
	if rfc == "" {
		return ""
	}
	t, err := time.Parse(time.RFC3339, rfc)
	if err != nil {
		return "bad " + rfc
	}
	return t.In(loc).Format(daousim.DefaultFields().TimeFormat)
}

func count(ctx context.Context, conn clickhouse.Conn, q string) (uint64, error) {
	var n uint64
	err := conn.QueryRow(ctx, q).Scan(&n)
	return n, err
}

// startFTP runs vsftpd (scripts/vsftpd.sh) on a free loopback port.
func startFTP(ctx context.Context, repo, dir string) (string, func(), error) {
	script := filepath.Join(repo, "scripts", "vsftpd.sh")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	if out, err := exec.CommandContext(ctx, "bash", script, "start", dir, strconv.Itoa(port)).CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("start vsftpd: %v: %s", err, out)
	}
	stop := func() { exec.Command("bash", script, "stop", dir).Run() }
	u := url.URL{Scheme: "ftp", User: url.User("anonymous"), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Path: filepath.Join(dir, "root")}
	return u.String(), stop, nil
}

func copyDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	old := time.Now().Add(-time.Minute) // as if the vendor program wrote them a minute ago
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		p := filepath.Join(dst, e.Name())
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
		os.Chtimes(p, old, old)
	}
	return nil
}

const ingestYAML = `
state_dir: %s
http: {listen: "off"}
kafka:
  brokers: [%q]
  partitions: 6
sites:
  hq: {tz: Asia/Seoul, card_key_env: ATTND_CARD_KEY}
  factory: {tz: Asia/Seoul, card_key_env: ATTND_CARD_KEY}
  lab: {tz: Asia/Seoul, card_key_env: ATTND_CARD_KEY}
sources:
  - {name: hq-folder, type: dir, path: %q, site: hq, min_age: 1ms, poll_interval: 1s}
  - {name: lab-folder, type: dir, path: %q, site: lab, min_age: 1ms, poll_interval: 1s}
  - {name: factory-ftp, type: ftp, url: %q, password_env: DEMO_FTP_PASSWORD, tls: none, site: factory, min_age: 1ms, poll_interval: 1s}
`

const pusherYAML = `
state_dir: %s
http: {listen: "off"}
kafka:
  brokers: [%q]
  partitions: 6
batch_interval: 200ms
clickhouse: {addr: [%q], protocol: http, database: %s}
migrate: true
history: {batch_interval: 500ms}
daou: {base_url: %q, client_id: %q, client_secret_env: DAOU_DEMO_SECRET, rate_per_second: 200, verify_after: 0s}
match:
  card_key_env: ATTND_CARD_KEY
  sites:
    - {site: hq, rules: []}
    - {site: factory, rules: [{kind: strip_prefix, prefix: "1600"}]}
    - {site: lab, rules: [{kind: pad_zeros, width: 8}]}
  directory:
    refresh: 1h
    providers: [{kind: roster, path: %q}]
`
