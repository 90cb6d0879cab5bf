package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/ledger"
	"github.com/attendance-pipeline/attnd/internal/publish"
	"github.com/attendance-pipeline/attnd/internal/publish/kafkatest"
)

// TestCrashKill9 runs `ingest run` (this test binary re-executed as the
// command) over many generated drops into kfake, which lives in the test
// process and so survives every crash. The ingest is killed with SIGKILL at
// random points, restarted, killed again, and finally `ingest run --once`
// finishes the work. Afterwards the distinct event ids on the punches topic
// are exactly those parsed from the files (none lost, nothing foreign),
// likewise the reject ids, every file is done in the ledger exactly once,
// and every file was moved (the after-action) exactly once.
func TestCrashKill9(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	_, addr := kafkatest.Fake(t, 1, 3, nil)
	root := t.TempDir()
	drops := genDrops(t, filepath.Join(root, "gen"), 600, 100, 11)
	tr := newTruth()
	same := func(p string) string { return p }
	tr.add(t, drops["factory"], "factory", "", same)
	tr.add(t, drops["lab"], "lab", "", same)
	t.Logf("%d files, %d distinct punches, %d rejects", tr.files, len(tr.events), len(tr.rejects))
	if tr.files < 100 || len(tr.events) < 30000 {
		t.Fatalf("the drop is too small for a crash test: %d files, %d punches", tr.files, len(tr.events))
	}

	state := filepath.Join(root, "state")
	done := filepath.Join(root, "done")
	// Small chunks: many acknowledged writes per file, so kills land between them.
	cfg := writeFile(t, filepath.Join(root, "ingest.yaml"), fmt.Sprintf(`state_dir: %s
http: {listen: "off"}
retry: 100ms
kafka:
  brokers: ["%s"]
  partitions: 3
  chunk_size: 50
sources:
  - name: factory-drops
    type: dir
    path: %s
    site: factory
    after: move:%s/factory
    min_age: 1ms
    poll_interval: 200ms
  - name: lab-drops
    type: dir
    path: %s
    site: lab
    after: move:%s/lab
    min_age: 1ms
    poll_interval: 200ms
`, state, addr, drops["factory"], done, drops["lab"], done))

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 42))
	t.Logf("kill schedule seed %d", seed)
	logPath := filepath.Join(root, "ingest.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 20000 {
				b = b[len(b)-20000:]
			}
			t.Logf("ingest log (tail):\n%s", b)
		}
	})
	command := func(args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, os.Args[0], args...)
		cmd.Env = append(os.Environ(), reexecEnv+"=1")
		cmd.Stdout, cmd.Stderr = logf, logf
		return cmd
	}

	// Kill at random points until the work is done (at least minKills
	// times mid-work, at most maxKills times).
	const minKills, maxKills = 6, 40
	kills, killedMidWork := 0, 0
	for kills < maxKills {
		cmd := command("run", "--config", cfg)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(50+rng.IntN(350)) * time.Millisecond
		time.Sleep(delay)
		if err := cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup at all
			t.Fatalf("kill: %v", err)
		}
		if err := cmd.Wait(); err == nil {
			t.Fatalf("kill %d: the ingest exited on its own before the kill", kills)
		}
		kills++
		c := ledgerCounts(t, ctx, state)
		t.Logf("kill %d after %v: ledger %v", kills, delay, c)
		if c[attendance.FileFailed] > 0 || c[attendance.FileQuarantined] > 0 {
			t.Fatalf("kill %d: ledger %v: no file should fail or be quarantined", kills, c)
		}
		if c[attendance.FileDone] == tr.files {
			break
		}
		killedMidWork++
	}
	if killedMidWork < minKills {
		t.Fatalf("only %d kills landed before the work was done, want at least %d: make the drop bigger", killedMidWork, minKills)
	}

	final := command("run", "--config", cfg, "--once", "--settle", "200ms")
	if err := final.Run(); err != nil {
		t.Fatalf("final ingest run --once: %v", err)
	}

	punches := kafkatest.ReadAll(t, addr, publish.DefaultPunchesTopic)
	got := map[string]int{}
	for _, m := range punches {
		got[kafkatest.EventID(m)]++
	}
	if d := diffIDs(got, tr.events); d != "" {
		t.Fatalf("punches topic after %d kills: %s", kills, d)
	}
	gotRej := map[string]int{}
	for _, m := range kafkatest.ReadAll(t, addr, publish.DefaultRejectsTopic) {
		gotRej[kafkatest.Header(m, "reject_id")]++
	}
	if d := diffIDs(gotRej, tr.rejects); d != "" {
		t.Fatalf("rejects topic after %d kills: %s", kills, d)
	}
	t.Logf("%d punch messages for %d distinct event ids (%d re-published after crashes); %d of %d kills landed mid-work",
		len(punches), len(got), len(punches)-len(got), killedMidWork, kills)

	led, err := ledger.Open(ctx, state)
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	all, err := led.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != tr.files {
		t.Fatalf("ledger has %d entries for %d files", len(all), tr.files)
	}
	for _, e := range all {
		if e.State != attendance.FileDone || tr.sha[e.Path] != e.SHA256 {
			t.Fatalf("ledger entry %+v: want done with the file's sha256", e)
		}
		if e.Punches+e.Rejects == 0 {
			t.Fatalf("ledger entry %s done with no punches or rejects", e.Path)
		}
	}
	for _, site := range []string{"factory", "lab"} {
		if left, _ := os.ReadDir(drops[site]); len(left) != 0 {
			t.Fatalf("%d files left in the %s drop folder", len(left), site)
		}
	}
	moved := 0
	for _, site := range []string{"factory", "lab"} {
		ents, _ := os.ReadDir(filepath.Join(done, site))
		moved += len(ents)
	}
	if moved != tr.files {
		t.Fatalf("%d files in the done folders, want %d", moved, tr.files)
	}
}

// ledgerCounts opens the ledger of a stopped ingest and counts its states.
func ledgerCounts(t testing.TB, ctx context.Context, state string) map[string]int {
	t.Helper()
	if _, err := os.Stat(filepath.Join(state, ledger.FileName)); err != nil {
		return map[string]int{}
	}
	led, err := ledger.Open(ctx, state)
	if err != nil {
		t.Fatalf("ledger after a kill: %v", err)
	}
	defer led.Close()
	c, err := led.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
