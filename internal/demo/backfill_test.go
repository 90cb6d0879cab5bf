package demo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/daousim"
	"github.com/attendance-pipeline/attnd/internal/devstack"
	"github.com/attendance-pipeline/attnd/internal/parsers"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
	"github.com/attendance-pipeline/attnd/internal/publish/kafkatest"
	"github.com/attendance-pipeline/attnd/internal/sample"
)

// BenchmarkBackfill measures the backfill: a year of drops of a
// company (about 10 million punches by default) through the file, Kafka and
// the history, with the ingest and the pusher as separate processes as in
// production.
//
//	go test -run '^$' -bench Backfill -benchtime 1x -timeout 0 ./internal/demo
//	ATTND_BACKFILL_PUNCHES=200000 go test -run '^$' -bench Backfill -benchtime 1x ./internal/demo
//
// The drops (sample.Generate, the vendors' real layouts and encodings, one
// file per day per site and one per hour at the ADT Caps site) are generated
// once into $TMPDIR/attnd-backfill-<N> and reused by later runs; generation
// is not measured. The number of people is chosen so that a year (365 days,
// weekends included) gives about N punches: the generator makes about 3.2
// punches per person-day, so 10 M punches are about 8,500 people over a year
// (7,000 people give about 8.2 M).
//
// The engines (kfake, the ClickHouse engine behind its HTTP front, the Daou
// simulator) run in this test process; `ingest run --once` and `pusher run`
// (history writer on, its defaults) run as processes built from ./cmd. The
// pusher cannot run without its Daou side, so it pushes to the in-process
// simulator with the client's default rate limit (5 calls/s), as it would
// push to Daou in production: its punches group (match, matched history,
// derive, push) runs beside the history writer but pushing a backfilled year
// to Daou, one call per person-day, is a separate part that takes days at
// Daou's rate and is not measured here. ATTND_BACKFILL_DAOU_RATE sets
// daou.rate_per_second (-1: no limit, the simulator as fast as the two
// cores allow, as the first measurements were taken).
//
// The clock starts when the ingest process starts and stops when
// `SELECT count() FROM punches FINAL` equals the generated punches (the
// generator's ground truth); it is a correctness failure if that does not
// happen within ATTND_BACKFILL_TIMEOUT (default 20m). No time is asserted.
// Reported: punches/s end to end, the end-to-end and ingest-alone seconds,
// the peak RSS of the ingest and pusher processes (rusage Maxrss) and of
// this process over the run (VmHWM, reset after generation), and CPU seconds
// of each. The timeline and both processes' logs are kept in
// $TMPDIR/attnd-backfill-<N>-{progress.txt,ingest.log,pusher.log}; the
// numbers and where the time goes are in docs/benchmarks.md. Each iteration
// is a whole backfill on fresh engines: run it with -benchtime 1x.
func BenchmarkBackfill(b *testing.B) {
	n := 10_000_000
	if v := os.Getenv("ATTND_BACKFILL_PUNCHES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			b.Fatalf("ATTND_BACKFILL_PUNCHES=%q: want a number of at least 1000", v)
		}
	}
	timeout := 20 * time.Minute
	if v := os.Getenv("ATTND_BACKFILL_TIMEOUT"); v != "" {
		var err error
		if timeout, err = time.ParseDuration(v); err != nil {
			b.Fatalf("ATTND_BACKFILL_TIMEOUT=%q: %v", v, err)
		}
	}
	b.StopTimer()
	root := kafkatest.RepoRoot(b)
	loc, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		b.Fatal(err)
	}
	drops, meta := backfillDrops(b, n, loc)
	b.Logf("drops: %s: %d files, %.0f MB, %d people over %s..%s: %d punches, %d bad rows (generated in %.0f s, not measured)",
		drops, meta.Files, float64(meta.Bytes)/1e6, meta.People, meta.From, meta.To, meta.Punches, meta.Rejects, meta.GenerateSeconds)

	bins := b.TempDir()
	for _, c := range []string{"ingest", "pusher"} {
		build := exec.Command("go", "build", "-o", filepath.Join(bins, c), "./cmd/"+c)
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("build %s: %v\n%s", c, err, out)
		}
	}
	b.Setenv("ATTND_CARD_KEY", cardKey)
	b.Setenv("DAOU_DEMO_SECRET", clientSecret)

	// The host's speed varies by 10-20% from hour to hour (other tenants of
	// the machine): a fixed single-core task measured just before the runs
	// lets runs taken at different times be compared.
	calib := calibrate(b, drops)
	b.Logf("calibration: one core parses the first Secom drop at %.0f ns a row (lower is a faster host)", calib)

	var last backfillRun
	for i := range b.N {
		last = runBackfill(b, root, bins, drops, meta, loc, timeout)
		b.Logf("run %d: %s", i+1, last.summary(meta))
	}
	b.Logf("timeline, ingest and pusher logs of the last run: %s-{progress.txt,ingest.log,pusher.log}", drops)
	b.ReportMetric(float64(meta.Punches)/last.total.Seconds(), "punches/s")
	b.ReportMetric(last.total.Seconds(), "s")
	b.ReportMetric(last.ingest.Seconds(), "ingest-s")
	b.ReportMetric(float64(last.ingestRSS)/1024, "ingest_peak_MiB")
	b.ReportMetric(float64(last.pusherRSS)/1024, "pusher_peak_MiB")
	b.ReportMetric(float64(last.enginesRSS)/1024, "engines_peak_MiB")
	b.ReportMetric(last.ingestCPU.Seconds(), "ingest_cpu_s")
	b.ReportMetric(last.pusherCPU.Seconds(), "pusher_cpu_s")
	b.ReportMetric(last.enginesCPU.Seconds(), "engines_cpu_s")
	b.ReportMetric(float64(last.mergedRows)/float64(meta.Punches), "merged_rows/punch")
	b.ReportMetric(last.mergeCPU.Seconds(), "merge_cpu_s")
	b.ReportMetric(calib, "calib_ns/row")
}

// calibrate parses the first day's Secom drop (UTF-8 CSV through gocsv) on
// one goroutine for about two seconds and returns the best time a row of
// five rounds: a measure of the host's speed right now.
func calibrate(b *testing.B, drops string) float64 {
	files, _ := filepath.Glob(filepath.Join(drops, "drops", "factory", "*"))
	if len(files) == 0 {
		b.Fatalf("calibrate: no drops under %s/drops/factory", drops)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		b.Fatal(err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	best := math.Inf(1)
	for range 5 {
		rows, start := 0, time.Now()
		for time.Since(start) < 400*time.Millisecond {
			res, err := parsers.Parse(context.Background(), bytes.NewReader(data), parsers.Request{Name: files[0], Options: parsekit.Options{Site: "factory"}}, discard{})
			if err != nil {
				b.Fatalf("calibrate: %v", err)
			}
			rows += res.Punches + res.Rejects
		}
		best = min(best, float64(time.Since(start).Nanoseconds())/float64(rows))
	}
	return best
}

type discard struct{}

func (discard) Punch(attendance.Punch) error   { return nil }
func (discard) Reject(attendance.Reject) error { return nil }

// backfillMeta describes a generated drop set (meta.json in its folder).
type backfillMeta struct {
	Target          int     `json:"target"`
	People          int     `json:"people"`
	From            string  `json:"from"`
	To              string  `json:"to"`
	Seed            uint64  `json:"seed"`
	Punches         int     `json:"punches"`
	Rejects         int     `json:"rejects"`
	Files           int     `json:"files"`
	Bytes           int64   `json:"bytes"`
	GenerateSeconds float64 `json:"generate_seconds"`
}

// backfillDrops returns the folder of the drops for n punches (its drops/
// and roster.csv) and their description, generating them when
// $TMPDIR/attnd-backfill-<n>/meta.json is missing.
func backfillDrops(b *testing.B, n int, loc *time.Location) (string, backfillMeta) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("attnd-backfill-%d", n))
	var meta backfillMeta
	if raw, err := os.ReadFile(filepath.Join(dir, "meta.json")); err == nil && json.Unmarshal(raw, &meta) == nil && meta.Punches > 0 {
		return dir, meta
	}
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, loc)
	to := time.Date(2025, 12, 31, 0, 0, 0, 0, loc)
	days := int(to.Sub(from).Hours()/24+0.5) + 1
	const unmatched = 3 // per site, as in the demo

	// Calibrate: punches per person-day of the generator (about 3.2).
	cal, err := sample.Generate(sample.Config{Dir: b.TempDir(), From: from, To: from.AddDate(0, 0, 13), People: 600, Unmatched: unmatched,
		Seed: 1, Location: loc, BadRows: true, Weekends: true})
	if err != nil {
		b.Fatal(err)
	}
	perPersonDay := float64(cal.Punches) / float64((600+3*unmatched)*14)
	people := max(30, int(math.Round(float64(n)/(perPersonDay*float64(days))))-3*unmatched)

	tmp := fmt.Sprintf("%s.tmp-%d", dir, os.Getpid())
	os.RemoveAll(tmp)
	start := time.Now()
	truth, err := sample.Generate(sample.Config{Dir: tmp, From: from, To: to, People: people, Unmatched: unmatched,
		Seed: 2025, Location: loc, BadRows: true, Weekends: true})
	if err != nil {
		os.RemoveAll(tmp)
		b.Fatal(err)
	}
	meta = backfillMeta{Target: n, People: people, From: from.Format("2006-01-02"), To: to.Format("2006-01-02"), Seed: 2025,
		Punches: truth.Punches, Rejects: truth.Rejects, Files: len(truth.Files), GenerateSeconds: time.Since(start).Seconds()}
	truth = nil
	for _, f := range meta.filesIn(tmp) {
		if st, err := os.Stat(f); err == nil {
			meta.Bytes += st.Size()
		}
	}
	// As if the vendor programs wrote them a while ago (min_age is met).
	old := time.Now().Add(-time.Hour)
	for _, f := range meta.filesIn(tmp) {
		os.Chtimes(f, old, old)
	}
	raw, _ := json.MarshalIndent(meta, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, "meta.json"), raw, 0o644); err != nil {
		b.Fatal(err)
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		b.Fatal(err)
	}
	return dir, meta
}

func (backfillMeta) filesIn(dir string) []string {
	var out []string
	for _, s := range sample.Sites {
		ents, _ := os.ReadDir(filepath.Join(dir, "drops", s.Name))
		for _, e := range ents {
			out = append(out, filepath.Join(dir, "drops", s.Name, e.Name()))
		}
	}
	return out
}

// backfillRun is what one run measured.
type backfillRun struct {
	total, ingest                      time.Duration // from the ingest's start: history complete; ingest exited
	atIngestEnd                        uint64        // punch rows in the history when the ingest exited
	ingestRSS, pusherRSS, enginesRSS   int64         // KiB
	ingestCPU, pusherCPU, enginesCPU   time.Duration // user + system
	daouRecords, daouCalls, matchedRow int
	pusherMetrics                      []string
	// The engine's own counters (system.events) at the end: rows and
	// uncompressed bytes its background merges rewrote, rows inserted.
	mergedRows, mergedBytes, insertedRows uint64
	activeParts                           uint64        // of punches, at the end
	mergeCPU                              time.Duration // the engine's MergeMutate threads over the run
}

func (r backfillRun) summary(m backfillMeta) string {
	return fmt.Sprintf("%d punches in the history (punches FINAL) %.1f s after the ingest started (%.0f punches/s); "+
		"ingest --once %.1f s (%.0f punches/s), %d rows in the history by then; "+
		"peak RSS ingest %.0f MiB, pusher %.0f MiB, engines (this process) %.0f MiB; CPU ingest %.1f s, pusher %.1f s, engines %.1f s; "+
		"pusher group by then: %d matched rows, %d days in Daou (%d calls); engine: %d rows inserted, %d rows (%.0f MB uncompressed) rewritten by merges (%.1f CPU s), %d active parts of punches",
		m.Punches, r.total.Seconds(), float64(m.Punches)/r.total.Seconds(), r.ingest.Seconds(), float64(m.Punches)/r.ingest.Seconds(), r.atIngestEnd,
		float64(r.ingestRSS)/1024, float64(r.pusherRSS)/1024, float64(r.enginesRSS)/1024,
		r.ingestCPU.Seconds(), r.pusherCPU.Seconds(), r.enginesCPU.Seconds(), r.matchedRow, r.daouRecords, r.daouCalls,
		r.insertedRows, r.mergedRows, float64(r.mergedBytes)/1e6, r.mergeCPU.Seconds(), r.activeParts)
}

// runBackfill runs one backfill on a fresh devstack and fresh process state.
func runBackfill(b *testing.B, root, bins, drops string, meta backfillMeta, loc *time.Location, timeout time.Duration) backfillRun {
	dir := b.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), timeout+5*time.Minute)
	defer cancel()

	accounts, err := simAccounts(ctx, filepath.Join(drops, "roster.csv"))
	if err != nil {
		b.Fatal(err)
	}
	sim := daousim.New(daousim.Options{ClientID: clientID, ClientSecret: clientSecret, Employees: accounts, SyncOnWrite: true, Location: loc})
	defer sim.Close()
	stack, err := devstack.Start(ctx, devstack.Config{Dir: filepath.Join(dir, "devstack"), Daou: sim})
	if err != nil {
		b.Fatal(err)
	}
	defer stack.Close()
	u, _ := url.Parse(stack.ClickHouseHTTP)
	conn, err := clickhouse.Open(&clickhouse.Options{Protocol: clickhouse.HTTP, Addr: []string{u.Host}, Auth: clickhouse.Auth{Database: database}})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()

	icfg := filepath.Join(dir, "ingest.yaml")
	compression := "snappy" // the default; ATTND_BACKFILL_COMPRESSION measures the others
	if v := os.Getenv("ATTND_BACKFILL_COMPRESSION"); v != "" {
		compression = v
	}
	os.WriteFile(icfg, []byte(fmt.Sprintf(backfillIngestYAML, filepath.Join(dir, "ingest-state"), stack.Kafka, compression,
		filepath.Join(drops, "drops", "hq"), filepath.Join(drops, "drops", "factory"), filepath.Join(drops, "drops", "lab"))), 0o644)
	metricsAddr := freeAddr(b)
	pcfg := filepath.Join(dir, "pusher.yaml")
	rate := "0" // the client's default
	if v := os.Getenv("ATTND_BACKFILL_DAOU_RATE"); v != "" {
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			b.Fatalf("ATTND_BACKFILL_DAOU_RATE=%q: want a number of calls per second (-1: no limit)", v)
		}
		rate = v
	}
	os.WriteFile(pcfg, []byte(fmt.Sprintf(backfillPusherYAML, filepath.Join(dir, "pusher-state"), metricsAddr, stack.Kafka, u.Host, database,
		stack.Daou, clientID, rate, filepath.Join(drops, "roster.csv"))), 0o644)

	// The processes' logs and a progress timeline are kept next to the
	// drops' folder ($TMPDIR/attnd-backfill-<N>-*): benchmark output is
	// cut after ten lines.
	logs := map[string]string{"ingest": filepath.Join(dir, "ingest.log"), "pusher": filepath.Join(dir, "pusher.log")}
	var progress []string
	note := func(format string, a ...any) { progress = append(progress, fmt.Sprintf(format, a...)) }
	keep := func(name string) string { return fmt.Sprintf("%s-%s", drops, name) }
	keepLogs := func(tail bool) {
		os.WriteFile(keep("progress.txt"), []byte(strings.Join(progress, "\n")+"\n"), 0o644)
		for name, p := range logs {
			raw, _ := os.ReadFile(p)
			os.WriteFile(keep(name+".log"), raw, 0o644)
			if tail {
				if len(raw) > 4000 {
					raw = raw[len(raw)-4000:]
				}
				b.Logf("%s log (whole in %s), tail:\n%s", name, keep(name+".log"), raw)
			}
		}
	}
	defer keepLogs(false)
	process := func(name string, args ...string) *exec.Cmd {
		f, err := os.Create(logs[name])
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		cmd := exec.CommandContext(ctx, filepath.Join(bins, name), args...)
		cmd.Dir = root
		cmd.Stdout, cmd.Stderr = f, f
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		cmd.WaitDelay = time.Minute
		return cmd
	}

	// Linux counts the parent's peak RSS at fork into a child's Maxrss (the
	// old mm's high-water mark is kept at exec), so the peak is reset before
	// each child starts: generating the drops peaks at about 3 GiB.
	resetPeak := func() {
		runtime.GC()
		debug.FreeOSMemory()
		os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	}
	// The pusher first (migrations, consumer groups joined), then the
	// clock starts with the ingest.
	resetPeak()
	pusherCmd := process("pusher", "run", "--config", pcfg)
	if err := pusherCmd.Start(); err != nil {
		b.Fatal(err)
	}
	pusherDone := make(chan struct{})
	var pusherErr error
	go func() { pusherErr = pusherCmd.Wait(); close(pusherDone) }()
	stopPusher := func() {
		pusherCmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-pusherDone:
		case <-time.After(time.Minute):
			pusherCmd.Process.Signal(syscall.SIGKILL)
			<-pusherDone
		}
	}
	defer stopPusher()
	if err := waitReady(ctx, conn, "http://"+metricsAddr+"/readyz", pusherDone, &pusherErr); err != nil {
		keepLogs(true)
		b.Fatalf("pusher not ready: %v", err)
	}

	resetPeak() // the engines' peak from here on
	var self0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self0)
	var threads threadCPU
	threads.sample()

	var r backfillRun
	start := time.Now()
	b.StartTimer()
	ingestCmd := process("ingest", "run", "--config", icfg, "--once", "--settle", "500ms")
	if err := ingestCmd.Start(); err != nil {
		b.Fatal(err)
	}
	ingestDone := make(chan error, 1)
	ingestExited := make(chan struct{})
	go func() { ingestDone <- ingestCmd.Wait(); close(ingestExited) }()

	want := uint64(meta.Punches)
	deadline := time.After(timeout)
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	lastLog := time.Now()
	var rows uint64
	for done := false; !done; {
		select {
		case err := <-ingestDone:
			r.ingest = time.Since(start)
			r.atIngestEnd, _ = count(ctx, conn, "SELECT count() FROM "+database+".punches")
			ingestDone = nil
			if err != nil {
				keepLogs(true)
				b.Fatalf("ingest run --once: %v", err)
			}
			note("%6.1f s: ingest --once exited; %d of %d punch rows in the history", r.ingest.Seconds(), r.atIngestEnd, want)
		case <-pusherDone:
			keepLogs(true)
			b.Fatalf("pusher exited: %v", pusherErr)
		case <-deadline:
			keepLogs(true)
			b.Fatalf("after %s: %d punch rows in the history (not FINAL), want %d", timeout, rows, want)
		case <-poll.C:
			threads.sample()
			if rows, err = count(ctx, conn, "SELECT count() FROM "+database+".punches"); err != nil {
				continue
			}
			if rows >= want && ingestDone == nil {
				final, err := count(ctx, conn, "SELECT count() FROM "+database+".punches FINAL")
				if err == nil && final == want {
					r.total = time.Since(start)
					done = true
					break
				}
				if final > want {
					keepLogs(true)
					b.Fatalf("punches FINAL = %d, more than the %d generated", final, want)
				}
			}
			if time.Since(lastLog) >= 5*time.Second {
				lastLog = time.Now()
				matched, _ := count(ctx, conn, "SELECT count() FROM "+database+".matched_punches")
				note("%6.1f s: %d punch rows in the history, %d matched rows, %d Daou record calls; RSS ingest %s, pusher %s", time.Since(start).Seconds(),
					rows, matched, sim.CallsTo(daousim.PathRecord), rssOf(ingestCmd.Process.Pid), rssOf(pusherCmd.Process.Pid))
			}
		}
	}
	b.StopTimer()
	var self1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self1)
	r.enginesCPU = cpuOf(&self1) - cpuOf(&self0)
	threads.sample()
	r.mergeCPU = threads.prefixed("MergeMutate")
	note("engine process CPU by thread name over the run: %v", threads.names)
	r.enginesRSS = vmHWM()
	r.insertedRows, _ = count(ctx, conn, "SELECT sum(value) FROM system.events WHERE event = 'InsertedRows'")
	r.mergedRows, _ = count(ctx, conn, "SELECT sum(value) FROM system.events WHERE event = 'MergedRows'")
	r.mergedBytes, _ = count(ctx, conn, "SELECT sum(value) FROM system.events WHERE event = 'MergedUncompressedBytes'")
	r.activeParts, _ = count(ctx, conn, "SELECT count() FROM system.parts WHERE database = '"+database+"' AND table = 'punches' AND active")

	// The pusher group's progress at that moment, and its metrics.
	r.daouCalls = sim.CallsTo(daousim.PathRecord)
	r.daouRecords = len(sim.Records())
	if m, err := count(ctx, conn, "SELECT count() FROM "+database+".matched_punches"); err == nil {
		r.matchedRow = int(m)
	}
	r.pusherMetrics = scrape("http://"+metricsAddr+"/metrics", "attnd_push_days_total", "attnd_pusher_batch_seconds_sum", "attnd_pusher_batch_seconds_count", "attnd_consumer_lag")
	note("%6.1f s: history complete; pusher metrics then:\n%s", r.total.Seconds(), strings.Join(r.pusherMetrics, "\n"))

	// Every bad row is in the rejects table too.
	var rejects uint64
	for end := time.Now().Add(time.Minute); ; time.Sleep(250 * time.Millisecond) {
		rejects, _ = count(ctx, conn, "SELECT count() FROM "+database+".rejects FINAL")
		if int(rejects) == meta.Rejects || time.Now().After(end) {
			break
		}
	}
	if int(rejects) != meta.Rejects {
		keepLogs(true)
		b.Fatalf("rejects FINAL = %d, generated %d bad rows", rejects, meta.Rejects)
	}

	stopPusher()
	<-ingestExited
	r.ingestRSS, r.ingestCPU = rusageOf(ingestCmd.ProcessState)
	r.pusherRSS, r.pusherCPU = rusageOf(pusherCmd.ProcessState)
	return r
}

func cpuOf(ru *syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rusageOf returns the peak RSS (KiB on Linux) and CPU time of an exited process.
func rusageOf(ps *os.ProcessState) (int64, time.Duration) {
	if ps == nil {
		return 0, 0
	}
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, ps.UserTime() + ps.SystemTime()
	}
	return ru.Maxrss, cpuOf(ru)
}

// threadCPU attributes this process's CPU time to thread names: each call
// adds every thread's CPU time (user + system, /proc/self/task/*/stat,
// 100 Hz ticks) since the previous call to the thread's current name.
// ClickHouse's pool threads take the name of the task they run
// ("MergeMutate" for background merges), so it is called often (every poll).
type threadCPU struct {
	last  map[string]int64 // tid -> ticks at the previous call
	names map[string]time.Duration
}

func (tc *threadCPU) sample() {
	if tc.last == nil {
		tc.last, tc.names = map[string]int64{}, map[string]time.Duration{}
	}
	tasks, _ := filepath.Glob("/proc/self/task/*")
	for _, t := range tasks {
		stat, err := os.ReadFile(filepath.Join(t, "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(s[end+1:]) // state is field 3 of stat, utime 14, stime 15
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		tid := filepath.Base(t)
		prev, seen := tc.last[tid]
		tc.last[tid] = u + st
		if seen {
			tc.names[s[open+1:end]] += time.Duration(u+st-prev) * 10 * time.Millisecond
		}
	}
}

// prefixed sums the CPU time attributed to names starting with prefix.
func (tc *threadCPU) prefixed(prefix string) time.Duration {
	var d time.Duration
	for n, v := range tc.names {
		if strings.HasPrefix(n, prefix) {
			d += v
		}
	}
	return d
}

// vmHWM is this process's peak RSS in KiB since the last reset (0 if unknown).
func vmHWM() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(raw)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return v
}

// rssOf is a running process's resident memory (anonymous + file-backed,
// MiB) from /proc, "-" once it exited.
func rssOf(pid int) string {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "-"
	}
	kib := func(key string) int64 {
		m := regexp.MustCompile(key + `:\s+(\d+) kB`).FindSubmatch(raw)
		if m == nil {
			return 0
		}
		v, _ := strconv.ParseInt(string(m[1]), 10, 64)
		return v
	}
	return fmt.Sprintf("%d+%d MiB", kib("RssAnon")>>10, kib("RssFile")>>10)
}

func freeAddr(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitReady waits until the pusher answers /readyz and the migrations made
// the punches table.
func waitReady(ctx context.Context, conn clickhouse.Conn, readyz string, exited <-chan struct{}, exitErr *error) error {
	end := time.Now().Add(2 * time.Minute)
	for {
		select {
		case <-exited:
			return fmt.Errorf("exited: %v", *exitErr)
		default:
		}
		if resp, err := http.Get(readyz); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if _, err := count(ctx, conn, "SELECT count() FROM "+database+".punches"); err == nil {
					return nil
				}
			}
		}
		if time.Now().After(end) {
			return errors.New("not ready after 2 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// scrape returns the lines of a Prometheus text page that start with one of
// the prefixes.
func scrape(u string, prefixes ...string) []string {
	resp, err := http.Get(u)
	if err != nil {
		return []string{err.Error()}
	}
	defer resp.Body.Close()
	var out []string
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 16<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		for _, p := range prefixes {
			if strings.HasPrefix(sc.Text(), p) {
				out = append(out, sc.Text())
				break
			}
		}
	}
	return out
}

// The ingest of the backfill: the three sites' folders, left in place
// (after: leave), files old enough at once.
const backfillIngestYAML = `
state_dir: %s
http: {listen: "off"}
kafka: {brokers: [%q], partitions: 6, compression: %s}
sites:
  hq: {tz: Asia/Seoul, card_key_env: ATTND_CARD_KEY}
  factory: {tz: Asia/Seoul, card_key_env: ATTND_CARD_KEY}
  lab: {tz: Asia/Seoul, card_key_env: ATTND_CARD_KEY}
sources:
  - {name: hq-folder, type: dir, path: %q, site: hq, after: leave, min_age: 1ms}
  - {name: factory-folder, type: dir, path: %q, site: factory, after: leave, min_age: 1ms}
  - {name: lab-folder, type: dir, path: %q, site: lab, after: leave, min_age: 1ms}
`

// The pusher of the backfill: history writer on with its defaults (batches
// of 50,000 rows or 32 MiB, inserted after 5 s or once caught up), the pusher's defaults
// (5,000 punches or 200 ms), the client's rate limit towards the simulator
// (default 5 calls/s; ATTND_BACKFILL_DAOU_RATE).
const backfillPusherYAML = `
state_dir: %s
http: {listen: %q}
kafka: {brokers: [%q], partitions: 6}
clickhouse: {addr: [%q], protocol: http, database: %s}
migrate: true
daou: {base_url: %q, client_id: %q, client_secret_env: DAOU_DEMO_SECRET, rate_per_second: %s, verify_after: 0s}
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
