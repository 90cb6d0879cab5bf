package ingest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/obs"
	"github.com/attendance-pipeline/attnd/internal/publish"
	"github.com/attendance-pipeline/attnd/internal/publish/kafkatest"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func mkdirs(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func startedIngest(t *testing.T, ctx context.Context, yml string) *Ingest {
	t.Helper()
	in := newIngest(t, yml)
	if err := in.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return in
}

// The same content dropped again under another name is skipped: nothing new
// on Kafka, one ledger entry, and the copy gets the after-action.
func TestSameContentAnotherNameIsSkipped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, addr := kafkatest.Fake(t, 1, 3, allTopics)
	root := t.TempDir()
	drops, done := filepath.Join(root, "drops"), filepath.Join(root, "done")
	mkdirs(t, drops)
	first := filepath.Join(drops, "export_0301.csv")
	telecopDrop(t, first, 7, 400, 50)
	ev, _ := expected(t, first, "hq")
	in := startedIngest(t, ctx, testConfig(filepath.Join(root, "state"), addr, drops, "move:"+done, ""))
	if err := in.Once(ctx, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	before := len(kafkatest.ReadAll(t, addr, publish.DefaultPunchesTopic))
	beforeRej := len(kafkatest.ReadAll(t, addr, publish.DefaultRejectsTopic))
	if before != len(ev) {
		t.Fatalf("%d punches on the topic, want %d", before, len(ev))
	}

	raw, err := os.ReadFile(filepath.Join(done, "export_0301.csv"))
	if err != nil {
		t.Fatal(err)
	}
	again := filepath.Join(drops, "export_0301 (1).csv") // a vendor program's re-send
	writeOld(t, again, string(raw))
	if err := in.Once(ctx, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if n := len(kafkatest.ReadAll(t, addr, publish.DefaultPunchesTopic)); n != before {
		t.Fatalf("the copy published %d more punches", n-before)
	}
	if n := len(kafkatest.ReadAll(t, addr, publish.DefaultRejectsTopic)); n != beforeRej {
		t.Fatalf("the copy published %d more rejects", n-beforeRej)
	}
	all, err := in.Ledger().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].Path != first || all[0].State != attendance.FileDone || all[0].Attempts != 1 {
		t.Fatalf("ledger %+v: want one done entry for the first name", all)
	}
	pe, ok, err := in.Ledger().ByPath(ctx, "hq-drops", again)
	if err != nil || !ok || pe.SHA256 != all[0].SHA256 {
		t.Fatalf("the copy's path is not recorded with the content's hash: %+v %v %v", pe, ok, err)
	}
	if _, err := os.Stat(filepath.Join(done, "export_0301 (1).csv")); err != nil {
		t.Fatalf("the skipped copy did not get the after-action: %v", err)
	}
	if v := obs.Value(in.metrics.Files.WithLabelValues("hq-drops", "duplicate")); v != 1 {
		t.Fatalf("duplicate files metric %v, want 1", v)
	}
}

// Changed content under the same name (a refill with more rows) is read
// again, and its unchanged punches keep their event_id: the distinct ids on
// the topic are exactly the new file's.
func TestChangedContentKeepsEventIDs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, addr := kafkatest.Fake(t, 1, 3, allTopics)
	root := t.TempDir()
	drops := filepath.Join(root, "drops")
	mkdirs(t, drops)
	p := filepath.Join(drops, "report.csv")
	telecopDrop(t, p, 9, 300, 0)
	ev1, _ := expected(t, p, "hq")
	in := startedIngest(t, ctx, testConfig(filepath.Join(root, "state"), addr, drops, "leave", ""))
	if err := in.Once(ctx, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	telecopDrop(t, p, 9, 450, 0) // the same 300 rows, then 150 more
	ev2, _ := expected(t, p, "hq")
	for id := range ev1 {
		if !ev2[id] {
			t.Fatalf("fixture: unchanged row lost its event id %s", id)
		}
	}
	if len(ev2) != len(ev1)+150 {
		t.Fatalf("fixture: %d ids after the refill, want %d", len(ev2), len(ev1)+150)
	}
	if err := in.Once(ctx, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	got := onTopic(t, addr)
	sameIDs(t, "punches after the refill", got, ev2)
	for id := range ev2 {
		want := 1
		if ev1[id] {
			want = 2 // published with the first version and again with the second
		}
		if got[id] != want {
			t.Fatalf("event %s on the topic %d times, want %d", id, got[id], want)
		}
	}
	all, _ := in.Ledger().All(ctx)
	if len(all) != 2 || all[0].State != attendance.FileDone || all[1].State != attendance.FileDone {
		t.Fatalf("ledger %+v: want both versions done", all)
	}
	pe, _, _ := in.Ledger().ByPath(ctx, "hq-drops", p)
	e, _, _ := in.Ledger().ByHash(ctx, pe.SHA256)
	if e.Punches != 450 {
		t.Fatalf("the path points at content with %d punches, want the refill's 450", e.Punches)
	}
}

// A file that fails to parse is quarantined with its reason, is not tried
// again, keeps its place (no after-action), and the other files are done.
func TestQuarantineWithReasonOthersContinue(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, addr := kafkatest.Fake(t, 1, 3, allTopics)
	root := t.TempDir()
	drops, done := filepath.Join(root, "drops"), filepath.Join(root, "done")
	mkdirs(t, drops)
	writeOld(t, filepath.Join(drops, "0-junk.csv"), "hello,world\n1,2\n")
	writeOld(t, filepath.Join(drops, "1-cut.csv"), "인증일시,요일,사원번호\n") // a header no layout has
	good := filepath.Join(drops, "2-good.csv")
	telecopDrop(t, good, 11, 200, 0)
	ev, _ := expected(t, good, "hq")
	in := startedIngest(t, ctx, testConfig(filepath.Join(root, "state"), addr, drops, "move:"+done, ""))
	if err := in.Once(ctx, 20*time.Millisecond); err != nil {
		t.Fatalf("a quarantined file is not a run failure: %v", err)
	}
	if err := in.Once(ctx, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "punches", onTopic(t, addr), ev)
	all, _ := in.Ledger().All(ctx)
	q := 0
	for _, e := range all {
		switch filepath.Base(e.Path) {
		case "2-good.csv":
			if e.State != attendance.FileDone {
				t.Fatalf("good file %+v", e)
			}
		default:
			q++
			if e.State != attendance.FileQuarantined || !strings.Contains(e.Reason, "layout") || e.Attempts != 1 {
				t.Fatalf("bad file %+v: want quarantined once with a reason naming the layout problem", e)
			}
			if _, err := os.Stat(e.Path); err != nil {
				t.Fatalf("quarantined file moved away: %v", err)
			}
		}
	}
	if q != 2 || len(all) != 3 {
		t.Fatalf("ledger %+v", all)
	}
	if _, err := os.Stat(filepath.Join(done, "2-good.csv")); err != nil {
		t.Fatal("good file not moved")
	}
	if v := obs.Value(in.metrics.FilesByState.WithLabelValues(attendance.FileQuarantined)); v != 2 {
		t.Fatalf("files{state=quarantined} %v, want 2", v)
	}
}

// A file left pending by a stop mid-file is resumed by the next start and
// published in full.
func TestPendingResumedAfterRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, addr := kafkatest.Fake(t, 1, 3, allTopics)
	root := t.TempDir()
	drops, done := filepath.Join(root, "drops"), filepath.Join(root, "done")
	mkdirs(t, drops)
	p := filepath.Join(drops, "big.csv")
	telecopDrop(t, p, 13, 3000, 0)
	ev, _ := expected(t, p, "hq")
	state := filepath.Join(root, "state")
	yml := testConfig(state, addr, drops, "move:"+done, "")

	cfg, err := ParseConfig([]byte(yml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	in1, err := New(ctx, cfg, map[string]Factory{"dir": DirFactory}, obs.Discard(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := in1.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopCtx, stop := context.WithCancel(ctx)
	var produces atomic.Int64
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if produces.Add(1) == 2 {
			stop() // the process stops after the first chunk was acknowledged
		}
		return nil, nil, false
	})
	if err := in1.Once(stopCtx, 20*time.Millisecond); err == nil {
		t.Fatal("Once succeeded although it was stopped mid-file")
	}
	pend, err := in1.Ledger().Pending(ctx)
	if err != nil || len(pend) != 1 || pend[0].Path != p {
		t.Fatalf("pending after the stop: %+v %v", pend, err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal("a pending file was moved")
	}
	if err := in1.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(onTopic(t, addr)); n == 0 || n >= len(ev) {
		t.Fatalf("%d of %d punches on the topic after the stop; want part of the file", n, len(ev))
	}

	in2 := startedIngest(t, ctx, yml) // restart over the same state dir
	if err := in2.Once(ctx, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "punches after the restart", onTopic(t, addr), ev)
	all, _ := in2.Ledger().All(ctx)
	if len(all) != 1 || all[0].State != attendance.FileDone || all[0].Attempts != 2 || all[0].Punches != len(ev) {
		t.Fatalf("ledger %+v: want done on the second attempt with every punch", all)
	}
	if _, err := os.Stat(filepath.Join(done, "big.csv")); err != nil {
		t.Fatal("resumed file not moved after done")
	}
}

// The daemon (Run) rides out a broker outage: while the broker refuses
// writes or is gone, the file is not done and stays in place; when the
// broker is back the ingest retries on its own and nothing is lost.
func TestDaemonRidesOutBrokerOutage(t *testing.T) {
	for _, mode := range []string{"refusing", "stopped"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, allTopics...))
			if err != nil {
				t.Fatal(err)
			}
			addr := c.ListenAddrs()[0]
			var port int
			if _, err := fmtSscanPort(addr, &port); err != nil {
				t.Fatal(err)
			}
			var refusing atomic.Bool
			var refused atomic.Int64
			c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				if !refusing.Load() {
					return nil, nil, false
				}
				refused.Add(1)
				return produceError(req, 6), nil, true // NOT_LEADER_OR_FOLLOWER
			})
			root := t.TempDir()
			drops, done := filepath.Join(root, "drops"), filepath.Join(root, "done")
			mkdirs(t, drops)
			in := startedIngest(t, ctx, testConfig(filepath.Join(root, "state"), addr, drops, "move:"+done, ""))
			runCtx, stopRun := context.WithCancel(ctx)
			ran := make(chan struct{})
			go func() { in.Run(runCtx); close(ran) }()
			defer func() { stopRun(); <-ran }()

			switch mode {
			case "refusing":
				refusing.Store(true)
			case "stopped":
				c.Close()
			}
			p := filepath.Join(drops, "during-outage.csv")
			telecopDrop(t, p, 17, 2000, 100)
			ev, _ := expected(t, p, "hq")

			deadline := time.Now().Add(3 * time.Second)
			for time.Now().Before(deadline) {
				if st := states(t, in.Ledger())["during-outage.csv"]; st == attendance.FileDone {
					t.Fatal("file done while the broker was unavailable")
				}
				if _, err := os.Stat(p); err != nil {
					t.Fatal("file moved while the broker was unavailable")
				}
				time.Sleep(100 * time.Millisecond)
			}
			if st := states(t, in.Ledger())["during-outage.csv"]; st != attendance.FileFailed && st != attendance.FilePending {
				t.Fatalf("state during the outage %q, want failed or pending", st)
			}
			if mode == "refusing" && refused.Load() < 2 {
				t.Fatalf("the ingest tried %d writes during the outage, want retries", refused.Load())
			}

			switch mode {
			case "refusing":
				refusing.Store(false)
			case "stopped":
				c2, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(3, allTopics...))
				if err != nil {
					t.Fatal(err)
				}
				defer c2.Close()
			}
			for st := ""; st != attendance.FileDone; st = states(t, in.Ledger())["during-outage.csv"] {
				if ctx.Err() != nil {
					t.Fatalf("file not done after the broker came back (state %q)", st)
				}
				time.Sleep(100 * time.Millisecond)
			}
			sameIDs(t, "punches after the outage", onTopic(t, addr), ev)
			if _, err := os.Stat(filepath.Join(done, "during-outage.csv")); err != nil {
				t.Fatal("file not moved after done")
			}
			if mode == "stopped" {
				c.Close()
			}
		})
	}
}

// Files of one source are processed several at a time (parallel: 3): every
// file is done once with its own ledger entry, and copies of one content in
// the same listing never overlap, so the copies are skipped as duplicates
// and nothing is published twice.
func TestParallelFilesOfASource(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, addr := kafkatest.Fake(t, 1, 3, allTopics)
	root := t.TempDir()
	drops, done := filepath.Join(root, "drops"), filepath.Join(root, "done")
	mkdirs(t, drops)
	want := map[string]bool{}
	var first string
	for i := range 10 {
		p := filepath.Join(drops, fmt.Sprintf("export_%02d.csv", i))
		telecopDrop(t, p, 20+i, 300+37*i, 40)
		ev, _ := expected(t, p, "hq")
		want = union(want, ev)
		if i == 0 {
			first = p
		}
	}
	raw, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"export_00 (1).csv", "export_05 copy.csv", "zz_export_00.csv"} {
		writeOld(t, filepath.Join(drops, name), string(raw))
	}
	in := startedIngest(t, ctx, testConfig(filepath.Join(root, "state"), addr, drops, "move:"+done, "    parallel: 3\n"))
	if err := in.Once(ctx, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	got := onTopic(t, addr)
	sameIDs(t, "punches", got, want)
	for id, n := range got {
		if n != 1 {
			t.Fatalf("event %s on the topic %d times, want once", id, n)
		}
	}
	all, err := in.Ledger().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 10 {
		t.Fatalf("%d ledger entries, want 10", len(all))
	}
	for _, e := range all {
		if e.State != attendance.FileDone || e.Attempts != 1 {
			t.Fatalf("ledger entry %+v: want done at the first attempt", e)
		}
	}
	if recs := kafkatest.ReadAll(t, addr, publish.DefaultFilesTopic); len(recs) != 10 {
		t.Fatalf("%d file records, want 10", len(recs))
	}
	if v := obs.Value(in.metrics.Files.WithLabelValues("hq-drops", "duplicate")); v != 3 {
		t.Fatalf("duplicate files metric %v, want 3", v)
	}
	left, _ := os.ReadDir(drops)
	moved, _ := os.ReadDir(done)
	if len(left) != 0 || len(moved) != 13 {
		t.Fatalf("%d files left in the drop folder, %d moved: want 0 and 13", len(left), len(moved))
	}
}
