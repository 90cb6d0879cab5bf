package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const topic = "t"

func cluster(t *testing.T, n int) (*kfake.Cluster, []string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addrs := c.ListenAddrs()
	w := &kafka.Writer{Addr: kafka.TCP(addrs...), Topic: topic, Balancer: &kafka.Hash{}, BatchTimeout: time.Millisecond}
	defer w.Close()
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: fmt.Appendf(nil, "k%d", i%17), Value: fmt.Appendf(nil, "v%d", i)}
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	return c, addrs
}

func testLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// readAll reads n messages, committing each, and fails on any reader error.
func readAll(t *testing.T, ctx context.Context, r *Reader, n int) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	for len(seen) < n {
		select {
		case m := <-r.Messages():
			seen[string(m.Value)] = true
			if err := r.Commit(ctx, m); err != nil {
				t.Fatal(err)
			}
		case err := <-r.Errors():
			t.Fatalf("after %d messages: %v", len(seen), err)
		case <-ctx.Done():
			t.Fatalf("after %d of %d messages: %v", len(seen), n, ctx.Err())
		}
	}
	return seen
}

// A reader whose fetches go unanswered while the group has lag reports
// ErrStalled; a new reader then consumes everything, and an idle reader
// with no lag, or with messages in flight, is left alone.
func TestStallWatchdog(t *testing.T) {
	const n = 200
	c, addrs := cluster(t, n)
	var stuck atomic.Bool
	stuck.Store(true)
	c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if stuck.Load() {
			return nil, errors.New("test: fetch swallowed"), true
		}
		return nil, nil, false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := Config{Brokers: addrs, GroupID: "g", Topics: []string{topic}, MaxWait: 100 * time.Millisecond, StallTimeout: 2 * time.Second, Log: testLog()}

	r := Start(ctx, cfg)
	select {
	case m := <-r.Messages():
		t.Fatalf("fetched %q through a swallowed fetch", m.Value)
	case err := <-r.Errors():
		if !errors.Is(err, ErrStalled) {
			t.Fatalf("want ErrStalled, got %v", err)
		}
	case <-ctx.Done():
		t.Fatal("stall never reported")
	}
	r.Close()

	stuck.Store(false)
	r = Start(ctx, cfg)
	if seen := readAll(t, ctx, r, n); len(seen) != n {
		t.Fatalf("read %d distinct of %d", len(seen), n)
	}
	lag, err := r.Lag(ctx)
	if err != nil || lag[topic] != 0 {
		t.Fatalf("lag after committing everything = %v, %v", lag, err)
	}
	select { // caught up: idle is fine
	case err := <-r.Errors():
		t.Fatalf("idle reader without lag reported %v", err)
	case m := <-r.Messages():
		t.Fatalf("unexpected message %q", m.Value)
	case <-time.After(3 * cfg.StallTimeout):
	}
	r.Close()
}

func TestInFlightIsNotAStall(t *testing.T) {
	const n = 50
	_, addrs := cluster(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := Config{Brokers: addrs, GroupID: "g2", Topics: []string{topic}, MaxWait: 100 * time.Millisecond, StallTimeout: time.Second, Log: testLog()}
	r := Start(ctx, cfg)
	defer r.Close()
	var held []kafka.Message
	for len(held) < n {
		select {
		case m := <-r.Messages():
			held = append(held, m)
		case err := <-r.Errors():
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	// Slow processing (Daou or ClickHouse down): nothing committed, the
	// fetcher idle at the end, the group lagging. Not a stall.
	select {
	case err := <-r.Errors():
		t.Fatalf("in-flight batch reported as %v", err)
	case <-time.After(4 * cfg.StallTimeout):
	}
	lag, err := r.Lag(ctx)
	if err != nil || lag[topic] != n {
		t.Fatalf("lag before commit = %v, %v; want %d", lag, err, n)
	}
	if err := r.Commit(ctx, held...); err != nil {
		t.Fatal(err)
	}
	if lag, err := r.Lag(ctx); err != nil || lag[topic] != 0 {
		t.Fatalf("lag after commit = %v, %v", lag, err)
	}
}

// Offsets move only by Commit: a new member resumes after the last commit.
func TestResumeFromCommit(t *testing.T) {
	const n = 100
	_, addrs := cluster(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := Config{Brokers: addrs, GroupID: "g3", Topics: []string{topic}, MaxWait: 100 * time.Millisecond, StallTimeout: -1, Log: testLog()}
	r := Start(ctx, cfg)
	var got int
	for got < n {
		m := <-r.Messages()
		got++
		if m.Partition == 0 { // commit partition 0 only
			if err := r.Commit(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.Close()
	lag, err := GroupLag(ctx, r.client, "g3", []string{topic})
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, p := range lag {
		if p.Partition != 0 {
			want += p.End
		} else if p.Committed != p.End {
			t.Fatalf("partition 0 committed %d of %d", p.Committed, p.End)
		}
	}
	r = Start(ctx, cfg)
	defer r.Close()
	for i := int64(0); i < want; i++ {
		select {
		case m := <-r.Messages():
			if m.Partition == 0 {
				t.Fatalf("partition 0 re-delivered offset %d after its commit", m.Offset)
			}
		case <-ctx.Done():
			t.Fatalf("re-delivered %d of %d uncommitted", i, want)
		}
	}
}

// With two members, one idle and caught up, the other holding its messages
// uncommitted (Daou slow): the idle member does not call that a stall of its
// own, so it does not force rebalances on the busy one.
func TestOtherMembersLagIsNotAStall(t *testing.T) {
	_, addrs := cluster(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := Config{Brokers: addrs, GroupID: "g4", Topics: []string{topic}, MaxWait: 100 * time.Millisecond, StallTimeout: time.Second, Log: testLog()}
	a, b := Start(ctx, cfg), Start(ctx, cfg)
	defer a.Close()
	defer b.Close()
	time.Sleep(5 * time.Second) // both joined and assigned
	w := &kafka.Writer{Addr: kafka.TCP(addrs...), Topic: topic, Balancer: &kafka.RoundRobin{}, BatchTimeout: time.Millisecond}
	defer w.Close()
	for i := range 60 {
		if err := w.WriteMessages(ctx, kafka.Message{Value: fmt.Appendf(nil, "v%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	var gotA, gotB int
	deadline := time.After(6 * cfg.StallTimeout)
	for done := false; !done; {
		select {
		case m := <-a.Messages():
			gotA++
			if err := a.Commit(ctx, m); err != nil {
				t.Fatal(err)
			}
		case <-b.Messages(): // held, never committed
			gotB++
		case err := <-a.Errors():
			t.Fatalf("idle member reported %v (it had %d messages, the busy one %d)", err, gotA, gotB)
		case err := <-b.Errors():
			t.Fatalf("busy member reported %v", err)
		case <-deadline:
			done = true
		}
	}
	if gotA == 0 || gotB == 0 || gotA+gotB < 60 {
		t.Fatalf("members got %d and %d of 60 messages: the group did not split the partitions", gotA, gotB)
	}
}
