package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/attendance-pipeline/attnd/internal/daousim"
	"github.com/attendance-pipeline/attnd/internal/devstack"
	"github.com/attendance-pipeline/attnd/internal/ingest"
	"github.com/attendance-pipeline/attnd/internal/obs"
	"github.com/attendance-pipeline/attnd/internal/publish/kafkatest"
	"github.com/attendance-pipeline/attnd/internal/sample"
)

// TestPusherKill9 kills the pusher process (kill -9) at random points over
// many runs while the Daou simulator fails part of the time, takes ClickHouse
// away for a minute and then the broker for a minute under a running pusher,
// then lets it finish: the history holds exactly the generated punches (punches FINAL),
// every expected working day is in Daou's middle database with the right
// times, and the simulator counted zero identical resends.
func TestPusherKill9(t *testing.T) {
	root := kafkatest.RepoRoot(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	loc, _ := time.LoadLocation("Asia/Seoul")
	gen := filepath.Join(dir, "sample")
	truth, err := sample.Generate(sample.Config{Dir: gen, From: time.Date(2026, 3, 2, 0, 0, 0, 0, loc), To: time.Date(2026, 3, 4, 0, 0, 0, 0, loc),
		People: 60, Unmatched: 2, Seed: 11, Location: loc, BadRows: true})
	if err != nil {
		t.Fatal(err)
	}
	accounts, err := simAccounts(ctx, filepath.Join(gen, "roster.csv"))
	if err != nil {
		t.Fatal(err)
	}
	sim := daousim.New(daousim.Options{ClientID: clientID, ClientSecret: clientSecret, Employees: accounts, BlockAfter: 3, SyncOnWrite: true, Location: loc})
	defer sim.Close()
	stack, err := devstack.Start(ctx, devstack.Config{Dir: filepath.Join(dir, "devstack"), Daou: sim})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	t.Setenv("ATTND_CARD_KEY", cardKey)
	t.Setenv("DAOU_DEMO_SECRET", clientSecret)

	// All drops onto Kafka first (folder sources; the FTP path is covered by
	// the end-to-end test), so the pusher has a backlog to be killed in.
	for _, site := range []string{"hq", "lab", "factory"} {
		if err := copyDir(filepath.Join(gen, "drops", site), filepath.Join(dir, "drops", site)); err != nil {
			t.Fatal(err)
		}
	}
	icfg, err := ingest.ParseConfig([]byte(fmt.Sprintf(`
state_dir: %s
http: {listen: "off"}
kafka: {brokers: [%q], partitions: 6}
sites:
  hq: {card_key_env: ATTND_CARD_KEY}
  lab: {card_key_env: ATTND_CARD_KEY}
  factory: {card_key_env: ATTND_CARD_KEY}
sources:
  - {name: hq, type: dir, path: %q, site: hq, min_age: 1ms}
  - {name: lab, type: dir, path: %q, site: lab, min_age: 1ms}
  - {name: factory, type: dir, path: %q, site: factory, min_age: 1ms}
`, filepath.Join(dir, "ingest"), stack.Kafka, filepath.Join(dir, "drops", "hq"), filepath.Join(dir, "drops", "lab"), filepath.Join(dir, "drops", "factory"))), nil)
	if err != nil {
		t.Fatal(err)
	}
	im := obs.NewIngestMetrics(prometheus.NewRegistry())
	in, err := ingest.New(ctx, icfg, ingest.Factories(im), obs.Discard(), im)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := in.Once(ctx, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	in.Close()

	bin := filepath.Join(dir, "pusher")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/pusher")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build pusher: %v\n%s", err, out)
	}
	u, _ := url.Parse(stack.ClickHouseHTTP)
	cfgPath := filepath.Join(dir, "pusher.yaml")
	cfg := fmt.Sprintf(pusherYAML, filepath.Join(dir, "pusher-state"), stack.Kafka, u.Host, database, stack.Daou, clientID, filepath.Join(gen, "roster.csv"))
	cfg = strings.Replace(cfg, "batch_interval: 200ms", "batch_interval: 50ms\nbatch_rows: 40\nlog: {level: debug}", 1) // many small batches: more places to die in
	cfg = strings.Replace(cfg, "  partitions: 6\n", "  partitions: 6\n  stall_timeout: 20s\n", 1)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "pusher.log")
	logs, _ := os.Create(logPath)
	defer logs.Close()
	defer func() {
		b, _ := os.ReadFile(logPath)
		t.Logf("readers restarted by the stall watchdog: %d", strings.Count(string(b), "consumer stalled"))
		if t.Failed() {
			keep := filepath.Join(os.TempDir(), "attnd-fault-pusher.log")
			os.WriteFile(keep, b, 0o644)
			t.Logf("whole pusher log kept in %s", keep)
			if len(b) > 40000 {
				b = b[len(b)-40000:]
			}
			t.Logf("pusher log (tail):\n%s", b)
		}
	}()
	start := func() *exec.Cmd {
		cmd := exec.CommandContext(ctx, bin, "run", "--config", cfgPath)
		cmd.Dir = root
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	kills := 0
	for i := range 10 {
		switch i {
		case 3: // Daou answers 503 for a while, then drops connections after storing
			sim.SetFault(daousim.Fault{Kind: daousim.Fault5xx, Status: 503})
		case 5:
			sim.SetFault(daousim.Fault{Kind: daousim.FaultDropAfter, Count: 5})
		case 7:
			sim.SetFault(daousim.Fault{Kind: daousim.FaultNone})
		}
		cmd := start()
		time.Sleep(time.Duration(300+rng.IntN(1500)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err == nil {
			kills++
		}
		cmd.Wait()
	}
	sim.SetFault(daousim.Fault{Kind: daousim.FaultNone})

	// A minute without ClickHouse, then a minute without the broker, each
	// with a pusher running through it and killed at the end.
	for _, outage := range []struct {
		name string
		set  func(bool)
	}{{"clickhouse", stack.SetClickHouseDown}, {"kafka", stack.SetKafkaDown}} {
		cmd := start()
		time.Sleep(time.Duration(500+rng.IntN(1000)) * time.Millisecond)
		outage.set(true)
		time.Sleep(time.Minute)
		if !alive(cmd.Process.Pid) {
			t.Errorf("the pusher exited during the %s outage instead of riding it out", outage.name)
		}
		outage.set(false)
		time.Sleep(time.Duration(500+rng.IntN(3000)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err == nil {
			kills++
		}
		cmd.Wait()
		t.Logf("%s down for a minute under a running pusher, then kill -9", outage.name)
	}
	t.Logf("killed the pusher %d times; %d records in Daou so far", kills, len(sim.Records()))

	final := start()
	defer func() {
		final.Process.Signal(syscall.SIGTERM)
		final.Wait()
	}()
	checkDaouDays(t, sim, truth.Days, loc, "after the kills")

	conn, err := clickhouse.Open(&clickhouse.Options{Protocol: clickhouse.HTTP, Addr: []string{u.Host}, Auth: clickhouse.Auth{Database: database}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n uint64
	for end := time.Now().Add(time.Minute); ; time.Sleep(300 * time.Millisecond) {
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+database+".punches FINAL").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if int(n) == truth.Punches || time.Now().After(end) {
			break
		}
	}
	if int(n) != truth.Punches {
		t.Errorf("punches FINAL = %d, generated %d", n, truth.Punches)
	}
}

// alive reports whether pid runs (not exited, not a zombie awaiting Wait).
// checkDaouDays waits up to 4 minutes until every expected day is in the
// simulator's middle database with its clock times, then requires zero
// identical resends.
func checkDaouDays(t *testing.T, sim *daousim.Server, days []sample.Day, loc *time.Location, when string) {
	t.Helper()
	deadline := time.Now().Add(4 * time.Minute)
	var wrong []string
	for {
		wrong = wrong[:0]
		recs := sim.Records()
		for _, w := range days {
			r, ok := recs[daousim.Key{EmployeeNumber: w.EmployeeNo, WorkingDay: w.WorkingDay}]
			if !ok || r.ClockIn != daouTime(w.ClockIn, loc) || r.ClockOut != daouTime(w.ClockOut, loc) {
				wrong = append(wrong, fmt.Sprintf("%s/%s: Daou %q-%q, want %s-%s (present %v)", w.EmployeeNo, w.WorkingDay, r.ClockIn, r.ClockOut, w.ClockIn, w.ClockOut, ok))
			}
		}
		if len(wrong) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if len(wrong) > 0 {
		t.Errorf("%d of %d days wrong in Daou %s, first: %s", len(wrong), len(days), when, wrong[0])
	}
	if n := sim.IdenticalResends(); n != 0 {
		t.Errorf("Daou counted %d identical resends", n)
	}
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z'
}
