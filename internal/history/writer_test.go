package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/consume"
	"github.com/attendance-pipeline/attnd/internal/publish/kafkatest"
)

var errCrash = errors.New("crash between insert and commit")

// TestWriterCrashBetweenInsertAndCommit publishes punches (some events twice,
// as a re-sent file does) to kfake, runs the writer until its first insert,
// kills it before the offset commit, restarts it, and checks that the history
// holds every distinct event exactly once under FINAL.
func TestWriterCrashBetweenInsertAndCommit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, conn, st := openTest(t)
	topics := []string{TopicPunches, TopicRejects, TopicUnmatched, TopicFiles}
	_, addr := kafkatest.Fake(t, 1, 3, topics)

	ps := testPunches("hq", time.Date(2026, 3, 2, 8, 0, 0, 0, seoul), 1000)
	msgs := punchMessages(t, ps)
	msgs = append(msgs, msgs[:150]...) // a re-sent part: other offsets, same events
	kw := &kafka.Writer{Addr: kafka.TCP(addr), Topic: TopicPunches, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond}
	if err := kw.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	kw.Close()

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	wcfg := WriterConfig{Brokers: []string{addr}, GroupID: "hist-" + cfg.Database, BatchRows: 200, BatchInterval: 100 * time.Millisecond}

	// Run 1: the first batch is inserted, then the process "dies".
	w1, err := NewWriter(st, wcfg, log)
	if err != nil {
		t.Fatal(err)
	}
	var crashed *batch
	w1.afterInsert = func(b *batch) error { crashed = b; return errCrash }
	if err := w1.Run(ctx); !errors.Is(err, errCrash) {
		t.Fatalf("run 1: %v, want the crash", err)
	}
	if s := w1.Stats(); s.Batches != 1 || s.Commits != 0 || s.Rows == 0 {
		t.Fatalf("run 1 stats %+v: want one inserted batch, no commit", s)
	}
	tbl := cfg.Database + ".punches"
	if n := count(t, conn, "SELECT count() FROM "+tbl); n != uint64(crashed.n) {
		t.Fatalf("after the crash: %d rows, want the crashed batch's %d", n, crashed.n)
	}

	// Run 2: re-delivers the uncommitted batch and the rest.
	w2, err := NewWriter(st, wcfg, log)
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w2.Run(rctx) }()
	for w2.Stats().Rows < int64(len(msgs)) {
		select {
		case err := <-done:
			t.Fatalf("run 2 stopped early: %v (stats %+v)", err, w2.Stats())
		case <-ctx.Done():
			t.Fatalf("run 2 read %d of %d messages", w2.Stats().Rows, len(msgs))
		case <-time.After(20 * time.Millisecond):
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("run 2: %v", err)
	}
	if n := count(t, conn, "SELECT count() FROM "+tbl+" FINAL"); n != uint64(len(ps)) {
		t.Errorf("SELECT count() FROM punches FINAL = %d, want %d distinct events", n, len(ps))
	}
	if n := count(t, conn, "SELECT uniqExact(event_id) FROM "+tbl); n != uint64(len(ps)) {
		t.Errorf("%d distinct event ids stored, want %d", n, len(ps))
	}
	// Only the crashed batch can be stored twice: re-delivered with the same
	// offset ranges it carries the same token and adds nothing; with other
	// boundaries (a batch spans partitions, so it is cut where the messages
	// happen to interleave) it is another block, collapsed by FINAL above.
	raw := count(t, conn, "SELECT count() FROM "+tbl)
	if raw > uint64(len(msgs)+crashed.n) {
		t.Errorf("%d raw rows for %d messages and a crashed batch of %d", raw, len(msgs), crashed.n)
	}

	// Run 3: everything was committed, nothing is delivered again.
	w3, err := NewWriter(st, wcfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx3, stop3 := context.WithTimeout(ctx, 3*time.Second)
	defer stop3()
	if err := w3.Run(ctx3); err != nil {
		t.Fatalf("run 3: %v", err)
	}
	if s := w3.Stats(); s.Rows != 0 {
		t.Errorf("run 3 inserted %d rows after everything was committed", s.Rows)
	}
}

// TestWriterBatchBytesAndPoison: with a small byte bound the writer inserts
// a batch as soon as it holds the bound (a batch never holds more than the
// bound plus one message); undecodable messages are skipped and committed;
// every punch lands once.
func TestWriterBatchBytesAndPoison(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, conn, st := openTest(t)
	topics := []string{TopicPunches, TopicRejects, TopicUnmatched, TopicFiles}
	_, addr := kafkatest.Fake(t, 1, 3, topics)

	ps := testPunches("hq", time.Date(2026, 3, 2, 8, 0, 0, 0, seoul), 2000)
	var msgs []kafka.Message
	biggest := 0
	for i := range ps {
		b, err := json.Marshal(ps[i])
		if err != nil {
			t.Fatal(err)
		}
		biggest = max(biggest, len(b)+len(ps[i].PartitionKey()))
		msgs = append(msgs, kafka.Message{Key: []byte(ps[i].PartitionKey()), Value: b})
		if i%700 == 0 {
			msgs = append(msgs, kafka.Message{Key: []byte("poison"), Value: []byte(`{"event_id":` + fmt.Sprint(i))})
		}
	}
	kw := &kafka.Writer{Addr: kafka.TCP(addr), Topic: TopicPunches, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond}
	if err := kw.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	kw.Close()

	const bound = 20 << 10
	w, err := NewWriter(st, WriterConfig{Brokers: []string{addr}, GroupID: "hist-" + cfg.Database, BatchRows: 1 << 20, BatchBytes: bound, BatchInterval: 300 * time.Millisecond},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	held := 0
	w.afterInsert = func(b *batch) error {
		mu.Lock()
		held = max(held, b.bytes)
		mu.Unlock()
		return nil
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(rctx) }()
	for w.Stats().Rows < int64(len(ps)) || w.Stats().Skipped < 3 {
		select {
		case err := <-done:
			t.Fatalf("writer stopped early: %v (stats %+v)", err, w.Stats())
		case <-ctx.Done():
			t.Fatalf("stats %+v, want %d rows and 3 skipped", w.Stats(), len(ps))
		case <-time.After(20 * time.Millisecond):
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s := w.Stats()
	if s.Rows != int64(len(ps)) || s.Skipped != 3 || s.Batches < int64(len(msgs)*200/bound) {
		t.Errorf("stats %+v: want %d rows, 3 skipped, many batches", s, len(ps))
	}
	if held > bound+biggest {
		t.Errorf("a batch held %d bytes, bound %d + one message %d", held, bound, biggest)
	}
	if n := count(t, conn, "SELECT count() FROM "+cfg.Database+".punches FINAL"); n != uint64(len(ps)) {
		t.Errorf("punches FINAL = %d, want %d", n, len(ps))
	}
	lag, err := consume.TopicLag(ctx, &kafka.Client{Addr: kafka.TCP(addr)}, "hist-"+cfg.Database, topics)
	if err != nil || lag[TopicPunches] != 0 {
		t.Errorf("lag after the run %v (%v): want everything committed, poison included", lag, err)
	}
}

// A batch's token names the topic and every partition's offset range in
// partition order, whatever order the partitions arrived in.
func TestBatchToken(t *testing.T) {
	b := &batch{topic: TopicPunches, spans: map[int]*span{}}
	for _, p := range []int{5, 0, 12, 3} {
		b.spans[p] = &span{first: int64(p * 10), last: kafka.Message{Partition: p, Offset: int64(p*10 + 9)}}
	}
	if got, want := b.token(), TopicPunches+"/0:0-9,3:30-39,5:50-59,12:120-129"; got != want {
		t.Fatalf("token %q, want %q", got, want)
	}
	if len(b.lasts()) != 4 {
		t.Fatalf("lasts %v", b.lasts())
	}
}

// hourRig is a history writer whose batch interval (an hour) never runs
// out during a test, the engine behind it, and a kafka-go Writer for its
// punches topic on a fresh kfake.
type hourRig struct {
	db   string
	conn driver.Conn
	w    *Writer
	kw   *kafka.Writer
	done chan error
	stop context.CancelFunc
}

func newHourRig(t *testing.T, partitions int32) *hourRig {
	t.Helper()
	cfg, conn, st := openTest(t)
	_, addr := kafkatest.Fake(t, 1, partitions, []string{TopicPunches, TopicRejects, TopicUnmatched, TopicFiles})
	kw := &kafka.Writer{Addr: kafka.TCP(addr), Topic: TopicPunches, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	t.Cleanup(func() { kw.Close() })
	w, err := NewWriter(st, WriterConfig{Brokers: []string{addr}, GroupID: "hist-" + cfg.Database, BatchInterval: time.Hour},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return &hourRig{db: cfg.Database, conn: conn, w: w, kw: kw, done: make(chan error, 1)}
}

func (r *hourRig) publish(t *testing.T, ctx context.Context, ps []attendance.Punch) {
	t.Helper()
	if err := r.kw.WriteMessages(ctx, punchMessages(t, ps)...); err != nil {
		t.Fatal(err)
	}
}

func (r *hourRig) run(ctx context.Context) {
	rctx, stop := context.WithCancel(ctx)
	r.stop = stop
	go func() { r.done <- r.w.Run(rctx) }()
}

// waitRows waits until the writer has stored n rows.
func (r *hourRig) waitRows(t *testing.T, ctx context.Context, n int64) {
	t.Helper()
	for r.w.Stats().Rows < n {
		select {
		case err := <-r.done:
			t.Fatalf("writer stopped: %v", err)
		case <-ctx.Done():
			t.Fatalf("%d of %d rows stored while caught up; the partial batch was not inserted", r.w.Stats().Rows, n)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// finish stops the writer and checks that the table holds want rows.
func (r *hourRig) finish(t *testing.T, want uint64) {
	t.Helper()
	r.stop()
	if err := <-r.done; err != nil {
		t.Fatal(err)
	}
	if n := count(t, r.conn, "SELECT count() FROM "+r.db+".punches FINAL"); n != want {
		t.Fatalf("%d rows, want %d", n, want)
	}
}

// TestWriterFlushesWhenCaughtUp: a partial batch is inserted once the writer
// has read everything there is, not when its batch interval (here an hour)
// runs out, and so is the next one.
func TestWriterFlushesWhenCaughtUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := newHourRig(t, 3)
	ps := testPunches("hq", time.Date(2026, 3, 2, 8, 0, 0, 0, seoul), 300)
	r.publish(t, ctx, ps[:200])
	r.run(ctx)
	r.waitRows(t, ctx, 200)
	if s := r.w.Stats(); s.Batches != 1 || s.Rows != 200 {
		t.Fatalf("stats %+v: want the 200 rows in one batch", s)
	}
	r.publish(t, ctx, ps[200:])
	r.waitRows(t, ctx, 300)
	r.finish(t, 300)
}

// Punches that trickle in faster than the idle wait still reach the table
// while they trickle: each fetch ends at the partition's high watermark, so
// the writer knows it has caught up without waiting for a quiet second.
func TestWriterFlushesWhileTrickling(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := newHourRig(t, 1)
	ps := testPunches("hq", time.Date(2026, 3, 2, 8, 0, 0, 0, seoul), 40)
	r.run(ctx)
	stored := uint64(0)
	for i := range ps { // one every 150 ms: never a quiet second
		r.publish(t, ctx, ps[i:i+1])
		if i >= 20 {
			stored = max(stored, count(t, r.conn, "SELECT count() FROM "+r.db+".punches"))
		}
		time.Sleep(150 * time.Millisecond)
	}
	if stored == 0 {
		t.Fatalf("no row stored while %d punches trickled in over %d batches; they waited for a pause", len(ps), r.w.Stats().Batches)
	}
	r.waitRows(t, ctx, int64(len(ps)))
	r.finish(t, uint64(len(ps)))
}

// punchMessages are ps as the ingest publishes them: key, JSON value, no
// headers.
func punchMessages(t testing.TB, ps []attendance.Punch) []kafka.Message {
	t.Helper()
	msgs := make([]kafka.Message, len(ps))
	for i := range ps {
		b, err := json.Marshal(ps[i])
		if err != nil {
			t.Fatal(err)
		}
		msgs[i] = kafka.Message{Key: []byte(ps[i].PartitionKey()), Value: b}
	}
	return msgs
}
