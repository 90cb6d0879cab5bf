package push

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/daousim"
)

const (
	envCrashChild = "PUSH_CRASH_CHILD" // base URL of the simulator
	envCrashState = "PUSH_CRASH_STATE"
	envCrashShift = "PUSH_CRASH_SHIFT" // clock-out shift, a duration
	envCrashAfter = "PUSH_CRASH_AFTER" // die (exit 137) right after this many accepted sends, before the ledger update
	crashRecords  = 1500
)

// TestMain doubles as the crash test's child process: with PUSH_CRASH_CHILD
// set, the test binary pushes the data set once and exits (0 when every
// record ended accepted or skipped).
func TestMain(m *testing.M) {
	if url := os.Getenv(envCrashChild); url != "" {
		os.Exit(crashChild(url))
	}
	os.Exit(m.Run())
}

func crashChild(url string) int {
	dir := os.Getenv(envCrashState)
	shift, _ := time.ParseDuration(os.Getenv(envCrashShift))
	zero := time.Duration(0)
	cfg := Config{BaseURL: url, ClientID: "client-1", ClientSecret: "s3cret-value", RatePerSecond: -1, Timeout: 5 * time.Second,
		BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond, VerifyAfter: &zero, Fields: FieldConfig{Location: "KST"}}
	c, err := NewClient(cfg, dir, nil, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	l, err := OpenLedger(filepath.Join(dir, "ledger.db"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	defer l.Close()
	p := NewPusher(c, l, nil, nil)
	if n, _ := strconv.Atoi(os.Getenv(envCrashAfter)); n > 0 {
		accepted := 0
		p.afterSend = func(r attendance.PushResult) {
			if r.Outcome == attendance.PushAccepted {
				if accepted++; accepted == n {
					os.Exit(137) // no deferred ledger close, no ledger update: as abrupt as kill -9 for the ledger
				}
			}
		}
	}
	res, err := p.Push(context.Background(), days(crashRecords, shift))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 4
	}
	for _, r := range res {
		if r.Outcome != attendance.PushAccepted && r.Outcome != attendance.PushSkipped {
			fmt.Fprintf(os.Stderr, "%+v\n", r)
			return 5
		}
	}
	return 0
}

// TestCrashNoIdenticalResend kills a pushing child with SIGKILL at random
// points, over several iterations and two versions of the data, then lets it
// finish: Daou must never have received an identical resend, and the middle
// DB must hold every record with the latest times.
func TestCrashNoIdenticalResend(t *testing.T) {
	e := newEnv(t, daousim.Options{SyncOnWrite: true, Employees: employees(crashRecords / 5)}, nil)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	start := func(shift time.Duration, extra ...string) *exec.Cmd {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), envCrashChild+"="+e.ts.URL, envCrashState+"="+e.dir, envCrashShift+"="+shift.String())
		cmd.Env = append(cmd.Env, extra...)
		return cmd
	}
	runEnv := func(shift time.Duration, extra ...string) (bool, int) {
		return false, exitCode(start(shift, extra...).Run())
	}
	windowCrashes := 0
	run := func(shift time.Duration, killAfter time.Duration) (killed bool, code int) {
		cmd := start(shift)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if killAfter > 0 {
			select {
			case err := <-done:
				return false, exitCode(err)
			case <-time.After(killAfter):
				_ = cmd.Process.Signal(syscall.SIGKILL)
				<-done
				return true, -1
			}
		}
		return false, exitCode(<-done)
	}
	// Kill points spread over a whole run: time one on a scratch simulator first.
	scratch := newEnv(t, daousim.Options{Employees: employees(crashRecords / 5)}, nil)
	began := time.Now()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), envCrashChild+"="+scratch.ts.URL, envCrashState+"="+scratch.dir, envCrashShift+"=0s")
	if err := cmd.Run(); err != nil {
		t.Fatalf("calibration run: %v", err)
	}
	// Each kill lands within the first fifth of a full run, so the ten
	// killed runs of a data version progress a little each and die mid-run.
	maxKill := max(10, int(time.Since(began).Milliseconds())/5)
	t.Logf("a full run takes %d ms", maxKill)
	kills := 0
	for _, shift := range []time.Duration{0, 37 * time.Minute} {
		before := len(e.sim.Records())
		// Deterministic: die between "Daou accepted" and "ledger updated".
		for i := 0; i < 3; i++ {
			if _, code := runEnv(shift, envCrashAfter+"="+strconv.Itoa(1+rng.IntN(50))); code != 137 {
				t.Fatalf("crash-after-accept child exited %d, want 137", code)
			}
			windowCrashes++
		}
		for i := 0; i < 10; i++ {
			if k, _ := run(shift, time.Duration(5+rng.IntN(maxKill))*time.Millisecond); k {
				kills++
			}
		}
		if _, code := run(shift, 0); code != 0 {
			t.Fatalf("shift %v: final run exited %d", shift, code)
		}
		if e.sim.IdenticalResends() != 0 {
			t.Fatalf("shift %v: %d identical resends after %d kills", shift, e.sim.IdenticalResends(), kills)
		}
		checkMiddleDB(t, e.sim, days(crashRecords, shift))
		t.Logf("shift %v: %d crashes after an accepted send, %d kills so far, middle DB %d -> %d records, %d record calls", shift, windowCrashes, kills, before, len(e.sim.Records()), e.sim.CallsTo(daousim.PathRecord))
	}
	if kills < 6 {
		t.Fatal("too few children were killed mid-run: the test proves little")
	}
	calls := e.sim.CallsTo(daousim.PathRecord)
	if _, code := run(37*time.Minute, 0); code != 0 || e.sim.CallsTo(daousim.PathRecord) != calls {
		t.Fatalf("a run over unchanged data sent records: exit %d, calls %d -> %d", code, calls, e.sim.CallsTo(daousim.PathRecord))
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -2
}
