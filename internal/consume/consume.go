// Package consume is the consumer-group reader shared by the pusher and the
// history writer: kafka-go's group Reader, fetched in the background, with
// explicit commits and a stall watchdog.
//
// Guarantee: at-least-once. Offsets move only through Commit, which the
// caller calls after a batch's effects are durable; a crash or restart
// re-delivers from the last commit.
//
// Why a watchdog: after a broker outage or many dead group members, a
// kafka-go group reader can stop fetching without returning an error
// (segmentio/kafka-go#387, #955). When the reader has nothing in flight, has
// fetched nothing for StallTimeout and the group still has lag whose
// committed offsets did not move meanwhile (on the partitions this reader has
// fetched from, once it has fetched any), Errors reports ErrStalled and the
// caller restarts with a new reader (a new group member).
package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/attendance-pipeline/attnd/internal/obs"
)

// DefaultStallTimeout is how long an idle reader may sit on a lagging group.
const DefaultStallTimeout = 2 * time.Minute

// ErrStalled reports a reader that stopped fetching while its group has lag.
var ErrStalled = errors.New("consumer stalled: group has lag but nothing was fetched")

// Config configures one group reader.
type Config struct {
	Brokers   []string
	GroupID   string
	Topics    []string
	Dialer    *kafka.Dialer    // SASL/TLS for the reader; nil dials plain TCP
	Transport *kafka.Transport // SASL/TLS for the lag queries; nil uses kafka.DefaultTransport
	MaxWait   time.Duration    // longest a fetch waits for data
	// MinBytes is how much data a fetch waits for (up to MaxWait) before
	// the broker answers; default 1 (answer as soon as there is any). A
	// consumer that batches anyway fetches fewer, larger chunks with more.
	MinBytes int
	Buffer   int // fetched messages held ahead of the caller
	// StallTimeout: see the package doc; default DefaultStallTimeout,
	// negative disables the watchdog.
	StallTimeout time.Duration
	Log          *slog.Logger
}

// Reader is a started group reader.
type Reader struct {
	cfg    Config
	r      *kafka.Reader
	client *kafka.Client
	msgs   chan kafka.Message
	errs   chan error
	cancel context.CancelFunc
	done   chan struct{}

	// nFetched counts fetched messages; the watchdog notes when it last
	// changed (no clock read per message).
	nFetched atomic.Int64

	mu        sync.Mutex
	fetched   map[tp]*atomic.Int64 // next offset after the last fetched message
	committed map[tp]int64         // next offset after the last message we committed
}

type tp struct {
	topic     string
	partition int
}

// Start joins the group and starts fetching in the background until ctx ends
// or Close is called.
func Start(ctx context.Context, cfg Config) *Reader {
	if cfg.StallTimeout == 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 1024
	}
	rc := kafka.ReaderConfig{
		Brokers:     cfg.Brokers,
		GroupID:     cfg.GroupID,
		Dialer:      cfg.Dialer,
		StartOffset: kafka.FirstOffset,
		MinBytes:    max(cfg.MinBytes, 1),
		MaxBytes:    16 << 20,
		MaxWait:     cfg.MaxWait,
		// A killed member is evicted after SessionTimeout; kafka-go's 30s
		// default keeps its partitions idle that long after every crash.
		SessionTimeout:   10 * time.Second,
		RebalanceTimeout: 10 * time.Second,
		CommitInterval:   0, // synchronous: Commit returns after the broker stored the offsets
		Logger:           kafka.LoggerFunc(obs.Printf(cfg.Log, slog.LevelDebug, "kafka")),
		ErrorLogger:      kafka.LoggerFunc(obs.Printf(cfg.Log, slog.LevelWarn, "kafka")),
	}
	if len(cfg.Topics) == 1 {
		rc.Topic = cfg.Topics[0]
	} else {
		rc.GroupTopics = cfg.Topics
	}
	var tr kafka.RoundTripper = kafka.DefaultTransport
	if cfg.Transport != nil {
		tr = cfg.Transport
	}
	ctx, cancel := context.WithCancel(ctx)
	c := &Reader{
		cfg:       cfg,
		r:         kafka.NewReader(rc),
		client:    &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr, Timeout: 10 * time.Second},
		msgs:      make(chan kafka.Message, cfg.Buffer),
		errs:      make(chan error, 2),
		cancel:    cancel,
		done:      make(chan struct{}),
		fetched:   map[tp]*atomic.Int64{},
		committed: map[tp]int64{},
	}
	go c.fetch(ctx)
	if cfg.StallTimeout > 0 {
		go c.watch(ctx)
	}
	return c
}

// Messages delivers fetched messages in partition order.
func (c *Reader) Messages() <-chan kafka.Message { return c.msgs }

// Errors delivers the error that stopped fetching (ctx's error on shutdown)
// or ErrStalled.
func (c *Reader) Errors() <-chan error { return c.errs }

func (c *Reader) fetch(ctx context.Context) {
	defer close(c.done)
	var at tp
	var next *atomic.Int64
	for {
		m, err := c.r.FetchMessage(ctx)
		if err != nil {
			c.report(err)
			return
		}
		// Messages come in runs of one partition: the map (and its lock)
		// is consulted only when the partition changes.
		if k := (tp{m.Topic, m.Partition}); next == nil || k != at {
			c.mu.Lock()
			if next = c.fetched[k]; next == nil {
				next = new(atomic.Int64)
				c.fetched[k] = next
			}
			c.mu.Unlock()
			at = k
		}
		next.Store(m.Offset + 1)
		c.nFetched.Add(1)
		select {
		case c.msgs <- m:
		case <-ctx.Done():
			c.report(ctx.Err())
			return
		}
	}
}

func (c *Reader) report(err error) {
	select {
	case c.errs <- err:
	default:
	}
}

// Commit stores the offsets of msgs (the last one per partition is enough).
func (c *Reader) Commit(ctx context.Context, msgs ...kafka.Message) error {
	if err := c.r.CommitMessages(ctx, msgs...); err != nil {
		return err
	}
	c.mu.Lock()
	for _, m := range msgs {
		k := tp{m.Topic, m.Partition}
		if m.Offset+1 > c.committed[k] {
			c.committed[k] = m.Offset + 1
		}
	}
	c.mu.Unlock()
	return nil
}

// inFlight reports whether fetched messages wait for the caller's commit.
func (c *Reader) inFlight() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, next := range c.fetched {
		if next.Load() > c.committed[k] {
			return true
		}
	}
	return false
}

func (c *Reader) watch(ctx context.Context) {
	every := max(c.cfg.StallTimeout/4, 100*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	var suspect map[tp]int64 // lagging partitions' committed offsets when first seen idle
	var since time.Time
	seen, progress := c.nFetched.Load(), time.Now() // progress: when nFetched last changed
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n := c.nFetched.Load(); n != seen {
			seen, progress = n, time.Now()
		}
		idle := time.Since(progress)
		if idle < c.cfg.StallTimeout || c.inFlight() {
			suspect = nil
			continue
		}
		lag, err := c.lagging(ctx)
		if err != nil {
			c.cfg.Log.DebugContext(ctx, "lag query failed", obs.KeyError, err.Error())
			continue
		}
		switch {
		case len(lag) == 0:
			suspect = nil
			continue
		case suspect == nil || moved(suspect, lag):
			suspect, since = lag, time.Now()
			continue
		}
		if time.Since(since) >= c.cfg.StallTimeout/2 {
			c.cfg.Log.WarnContext(ctx, "consumer stalled with lag; restarting the reader", "group", c.cfg.GroupID, "idle", idle.Round(time.Second).String(), "lagging_partitions", len(lag))
			c.report(fmt.Errorf("group %s: %w for %s", c.cfg.GroupID, ErrStalled, idle.Round(time.Second)))
			return
		}
	}
}

// moved is false when every partition lagging before still lags at the same
// committed offset (no member consumed it meanwhile).
func moved(before, now map[tp]int64) bool {
	for k, off := range before {
		if cur, ok := now[k]; !ok || cur != off {
			return true
		}
	}
	return false
}

// lagging returns the partitions whose committed offset is behind the end,
// with that committed offset. Once this reader has fetched anything, only the
// partitions it fetched from count: with several members, another member's
// slow partitions are that member's business (its own watchdog), and
// restarting here would only force rebalances.
func (c *Reader) lagging(ctx context.Context) (map[tp]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	lag, err := GroupLag(ctx, c.client, c.cfg.GroupID, c.cfg.Topics)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[tp]int64{}
	for _, p := range lag {
		k := tp{p.Topic, p.Partition}
		if _, mine := c.fetched[k]; len(c.fetched) > 0 && !mine {
			continue
		}
		if p.End > p.Committed {
			out[k] = p.Committed
		}
	}
	return out, nil
}

// Lag returns the reader's group lag by topic (see TopicLag).
func (c *Reader) Lag(ctx context.Context) (map[string]int64, error) {
	return TopicLag(ctx, c.client, c.cfg.GroupID, c.cfg.Topics)
}

// TopicLag returns a group's lag by topic: end offset minus committed offset
// (or minus the first offset where nothing is committed), summed over the
// partitions, queried within 10 s.
func TopicLag(ctx context.Context, client *kafka.Client, group string, topics []string) (map[string]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	parts, err := GroupLag(ctx, client, group, topics)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, p := range parts {
		out[p.Topic] += p.End - p.Committed
	}
	return out, nil
}

// PartitionLag is one partition's position in a group.
type PartitionLag struct {
	Topic     string
	Partition int
	Committed int64 // the group's next offset (first offset when none committed)
	End       int64 // the partition's end offset
}

// GroupLag reads the committed and end offsets of every partition of topics.
func GroupLag(ctx context.Context, client *kafka.Client, group string, topics []string) ([]PartitionLag, error) {
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	parts := map[string][]int{}
	reqs := map[string][]kafka.OffsetRequest{}
	for _, t := range md.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("metadata of %s: %w", t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			parts[t.Name] = append(parts[t.Name], p.ID)
			reqs[t.Name] = append(reqs[t.Name], kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
		}
	}
	of, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: parts})
	if err != nil {
		return nil, fmt.Errorf("committed offsets of %s: %w", group, err)
	}
	if of.Error != nil {
		return nil, fmt.Errorf("committed offsets of %s: %w", group, of.Error)
	}
	lo, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: reqs})
	if err != nil {
		return nil, fmt.Errorf("end offsets: %w", err)
	}
	committed := map[tp]int64{}
	for t, ps := range of.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return nil, fmt.Errorf("committed offset of %s/%d: %w", t, p.Partition, p.Error)
			}
			committed[tp{t, p.Partition}] = p.CommittedOffset
		}
	}
	var out []PartitionLag
	for t, ps := range lo.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return nil, fmt.Errorf("end offset of %s/%d: %w", t, p.Partition, p.Error)
			}
			c, ok := committed[tp{t, p.Partition}]
			if !ok || c < p.FirstOffset {
				c = p.FirstOffset
			}
			out = append(out, PartitionLag{Topic: t, Partition: p.Partition, Committed: c, End: p.LastOffset})
		}
	}
	return out, nil
}

// Close stops fetching and leaves the group. A reader wedged inside kafka-go
// is abandoned after a few seconds rather than blocking the restart.
func (c *Reader) Close() error {
	c.cancel()
	done := make(chan error, 1)
	go func() {
		<-c.done
		done <- c.r.Close()
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(15 * time.Second):
		c.cfg.Log.Warn("kafka reader did not close in 15s; abandoned", "group", c.cfg.GroupID)
		return nil
	}
}
