package ingest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/ledger"
	"github.com/attendance-pipeline/attnd/internal/obs"
	"github.com/attendance-pipeline/attnd/internal/publish"
	"github.com/attendance-pipeline/attnd/internal/publish/kafkatest"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newIngest(t *testing.T, yml string) *Ingest {
	t.Helper()
	cfg, err := ParseConfig([]byte(yml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	in, err := New(context.Background(), cfg, map[string]Factory{"dir": DirFactory}, failureLog(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	return in
}

// failureLog is a debug logger whose output the test prints if it fails.
func failureLog(t *testing.T) *slog.Logger {
	var mu sync.Mutex
	var buf bytes.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			defer mu.Unlock()
			b := buf.Bytes()
			if len(b) > 30000 {
				b = b[len(b)-30000:]
			}
			t.Logf("ingest log (tail):\n%s", b)
		}
	})
	return slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func states(t *testing.T, l *ledger.Ledger) map[string]string {
	t.Helper()
	all, err := l.All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range all {
		out[filepath.Base(e.Path)] = e.State
	}
	return out
}

func TestEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, addr := kafkatest.Fake(t, 1, 3, nil) // topics are created by the ingest
	root := t.TempDir()
	drops, done := filepath.Join(root, "drops"), filepath.Join(root, "done")
	os.Mkdir(drops, 0o755)
	var wantEv, wantRej []map[string]bool
	for i, n := range []string{"a.csv", "b.csv", "c.csv"} {
		p := filepath.Join(drops, n)
		telecopDrop(t, p, i, 1200, 100)
		ev, rej := expected(t, p, "hq")
		wantEv, wantRej = append(wantEv, ev), append(wantRej, rej)
	}
	// A copy of a.csv under another name: same content, published once.
	raw, _ := os.ReadFile(filepath.Join(drops, "a.csv"))
	writeOld(t, filepath.Join(drops, "a-again.csv"), string(raw))
	_, againRej := expected(t, filepath.Join(drops, "a-again.csv"), "hq")
	// A file no layout matches: quarantined, the rest goes on.
	writeOld(t, filepath.Join(drops, "junk.csv"), "hello,world\n1,2\n")

	in := newIngest(t, testConfig(filepath.Join(root, "state"), addr, drops, "move:"+done, ""))
	if err := in.Start(ctx); err != nil {
		t.Fatal(err)
	}
	err := in.Once(ctx, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "punches", onTopic(t, addr), union(wantEv...))
	st := states(t, in.Ledger())
	if st["a-again.csv"] != "" {
		// The copy was listed first: a reject_id names its file, so the
		// rejects are those of the copy (a.csv was skipped as a duplicate).
		wantRej[0] = againRej
	}
	rej := rejectsOnTopic(t, addr)
	sameIDs(t, "rejects", rej, union(wantRej...))
	if len(rej) != 36 {
		t.Fatalf("%d rejects, want 36", len(rej))
	}
	want := map[string]string{"a.csv": "done", "b.csv": "done", "c.csv": "done", "junk.csv": "quarantined"}
	if st["a-again.csv"] != "" {
		// The duplicate may be the one recorded if it was listed first.
		want = map[string]string{"a-again.csv": "done", "b.csv": "done", "c.csv": "done", "junk.csv": "quarantined"}
	}
	for k, v := range want {
		if st[k] != v {
			t.Fatalf("ledger states %v, want %v", st, want)
		}
	}
	if len(st) != 4 {
		t.Fatalf("ledger has %d entries (%v), want 4", len(st), st)
	}
	// Done and duplicate files were moved; the quarantined one stays for an operator.
	left, _ := os.ReadDir(drops)
	if len(left) != 1 || left[0].Name() != "junk.csv" {
		t.Fatalf("left in drops: %v", left)
	}
	moved, _ := os.ReadDir(done)
	if len(moved) != 4 {
		t.Fatalf("%d files moved, want 4", len(moved))
	}
	// One file record per done or quarantined file.
	recs := kafkatest.ReadAll(t, addr, publish.DefaultFilesTopic)
	byState := map[string]int{}
	for _, m := range recs {
		byState[kafkatest.Header(m, "state")]++
	}
	if byState["done"] != 3 || byState["quarantined"] != 1 {
		t.Fatalf("file records by state %v", byState)
	}
	if v := obs.Value(in.metrics.Events.WithLabelValues("hq-drops")); v != float64(len(union(wantEv...))) {
		t.Fatalf("events metric %v", v)
	}
}

func TestChangedContentUnderSameNameIsReadAgain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, addr := kafkatest.Fake(t, 1, 3, allTopics)
	root := t.TempDir()
	drops := filepath.Join(root, "drops")
	os.Mkdir(drops, 0o755)
	p := filepath.Join(drops, "daily.csv")
	telecopDrop(t, p, 1, 50, 0)
	ev1, _ := expected(t, p, "hq")
	in := newIngest(t, testConfig(filepath.Join(root, "state"), addr, drops, "leave", ""))
	if err := in.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := in.Once(ctx, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// Unchanged: nothing is published again.
	if err := in.Once(ctx, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	got := onTopic(t, addr)
	for id, n := range got {
		if n != 1 {
			t.Fatalf("event %s published %d times for an unchanged file", id, n)
		}
	}
	telecopDrop(t, p, 2, 60, 0) // new content, same name
	os.Chtimes(p, time.Now().Add(-30*time.Minute), time.Now().Add(-30*time.Minute))
	ev2, _ := expected(t, p, "hq")
	if err := in.Once(ctx, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "punches", onTopic(t, addr), union(ev1, ev2))
	all, _ := in.Ledger().All(ctx)
	if len(all) != 2 || all[0].State != "done" || all[1].State != "done" {
		t.Fatalf("ledger %+v", all)
	}
}

// produceError answers a produce request with code on every partition.
func produceError(req kmsg.Request, code int16) kmsg.Response {
	pr := req.(*kmsg.ProduceRequest)
	resp := pr.ResponseKind().(*kmsg.ProduceResponse)
	for _, tp := range pr.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic = tp.Topic
		for _, part := range tp.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition = part.Partition
			rp.ErrorCode = code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// TestNotDoneUntilAcknowledged: while Kafka refuses some of a file's writes,
// the file is never marked done nor moved; once Kafka recovers it is, and
// every event id of it is on the topic.
func TestNotDoneUntilAcknowledged(t *testing.T) {
	tests := []struct {
		name string
		// refuse reports whether produce request k (1-based) is refused while faults are on.
		refuse func(k int64) bool
	}{
		{"every write refused", func(int64) bool { return true }},
		{"refused from the 3rd write on (mid-file)", func(k int64) bool { return k >= 3 }},
		{"connection dropped from the 2nd write on", func(k int64) bool { return k >= 2 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			c, addr := kafkatest.Fake(t, 1, 3, allTopics)
			root := t.TempDir()
			drops, done := filepath.Join(root, "drops"), filepath.Join(root, "done")
			os.Mkdir(drops, 0o755)
			p := filepath.Join(drops, "big.csv")
			telecopDrop(t, p, 3, 3000, 0)
			ev, _ := expected(t, p, "hq")

			var faults atomic.Bool
			faults.Store(true)
			var k atomic.Int64
			dropConn := strings.Contains(tc.name, "connection")
			c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				if !faults.Load() || !tc.refuse(k.Add(1)) {
					return nil, nil, false
				}
				if dropConn {
					return nil, errInjected, true
				}
				return produceError(req, 19), nil, true // NOT_ENOUGH_REPLICAS
			})
			in := newIngest(t, testConfig(filepath.Join(root, "state"), addr, drops, "move:"+done, ""))
			if err := in.Start(ctx); err != nil {
				t.Fatal(err)
			}
			if err := in.Once(ctx, 20*time.Millisecond); err == nil {
				t.Fatal("Once reported success while Kafka refused writes")
			}
			if k.Load() == 0 {
				t.Fatal("no produce request reached the fault hook")
			}
			if st := states(t, in.Ledger())["big.csv"]; st == attendance.FileDone {
				t.Fatal("file marked done although writes were refused")
			}
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("after-action ran before the file was done: %v", err)
			}

			faults.Store(false) // Kafka recovers
			if err := in.Once(ctx, 20*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if st := states(t, in.Ledger())["big.csv"]; st != attendance.FileDone {
				t.Fatalf("state after recovery %q", st)
			}
			if _, err := os.Stat(filepath.Join(done, "big.csv")); err != nil {
				t.Fatalf("not moved after done: %v", err)
			}
			sameIDs(t, "punches", onTopic(t, addr), ev)
		})
	}
}

var errInjected = &injected{}

type injected struct{}

func (*injected) Error() string { return "injected disconnect" }

// TestBrokerGoneMidFile: the whole cluster disappears in the middle of a
// file; the file stays pending/failed; a new broker on the same port gets
// every event of the file once the ingest retries.
func TestBrokerGoneMidFile(t *testing.T) {
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
	var k atomic.Int64
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if k.Add(1) == 3 {
			go c.Close()
		}
		return nil, nil, false
	})
	root := t.TempDir()
	drops := filepath.Join(root, "drops")
	os.Mkdir(drops, 0o755)
	p := filepath.Join(drops, "big.csv")
	telecopDrop(t, p, 4, 4000, 0)
	ev, _ := expected(t, p, "hq")
	in := newIngest(t, testConfig(filepath.Join(root, "state"), addr, drops, "delete", ""))
	if err := in.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := in.Once(ctx, 20*time.Millisecond); err == nil {
		t.Fatal("Once succeeded although the broker went away")
	}
	if st := states(t, in.Ledger())["big.csv"]; st == attendance.FileDone {
		t.Fatal("file marked done although the broker went away mid-file")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal("file deleted although not done")
	}
	c2, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(3, allTopics...))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := in.Once(ctx, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if st := states(t, in.Ledger())["big.csv"]; st != attendance.FileDone {
		t.Fatalf("state after the broker came back %q", st)
	}
	sameIDs(t, "punches", onTopic(t, addr), ev)
	if _, err := os.Stat(p); err == nil {
		t.Fatal("file not deleted after done")
	}
}
