// Package consume is the consumer-group reader shared by the pusher and the
// history writer: kafka-go's ConsumerGroup for membership, assignments and
// commits, and one fetch loop per assigned partition (kafka-go's
// Client.Fetch) that hands over each fetch's messages as one slice.
//
// Guarantee: at-least-once. Offsets move only through Commit, which the
// caller calls after a batch's effects are durable; a crash, restart or
// rebalance re-delivers from the last commit.
//
// Why not kafka-go's Reader: it decodes every message into fresh
// allocations and passes each through two channels (its own and the one
// the caller needs for select), about a third of the pusher's CPU in the
// 10 M backfill (docs/benchmarks.md). Here a fetch's keys and values are
// copied into one buffer and the caller receives one slice per fetch.
//
// Why a watchdog: after a broker outage or many dead group members, a
// consumer can stop fetching without returning an error (kafka-go's Reader
// did, segmentio/kafka-go#387, #955). When the reader has nothing in flight,
// has fetched nothing for StallTimeout and the group still has lag whose
// committed offsets did not move meanwhile (on the partitions this reader
// has fetched from, once it has fetched any), Errors reports ErrStalled and
// the caller restarts with a new reader (a new group member).
package consume

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"

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
	Dialer    *kafka.Dialer    // SASL/TLS for the group coordinator; nil dials plain TCP
	Transport *kafka.Transport // SASL/TLS for fetches and lag queries; nil uses kafka.DefaultTransport
	MaxWait   time.Duration    // longest a fetch waits for data
	// MinBytes is how much data a fetch waits for (up to MaxWait) before
	// the broker answers; default 1 (answer as soon as there is any). A
	// consumer that batches anyway fetches fewer, larger chunks with more.
	MinBytes int
	// Buffer is about how many fetched messages are held ahead of the
	// caller (in whole fetches); default 1024.
	Buffer int
	// StallTimeout: see the package doc; default DefaultStallTimeout,
	// negative disables the watchdog.
	StallTimeout time.Duration
	Log          *slog.Logger
}

// maxFetchBytes bounds one partition's fetch (lz4-compressed punches: about
// 9,000 messages), and so the memory a fetch loop holds.
const maxFetchBytes = 1 << 20

// Reader is a started group reader.
type Reader struct {
	cfg     Config
	group   *kafka.ConsumerGroup
	client  *kafka.Client
	batches chan []kafka.Message
	errs    chan error
	cancel  context.CancelFunc
	done    chan struct{}
	gen     atomic.Pointer[kafka.Generation] // the current one; commits go through it

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
	var tr kafka.RoundTripper = kafka.DefaultTransport
	if cfg.Transport != nil {
		tr = cfg.Transport
	}
	ctx, cancel := context.WithCancel(ctx)
	c := &Reader{
		cfg: cfg,
		// The fetch loops' requests wait up to MaxWait at the broker; the
		// client's timeout bounds a whole round trip.
		client:    &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr, Timeout: 10*time.Second + cfg.MaxWait},
		batches:   make(chan []kafka.Message, max(cfg.Buffer/1024, 1)),
		errs:      make(chan error, 2),
		cancel:    cancel,
		done:      make(chan struct{}),
		fetched:   map[tp]*atomic.Int64{},
		committed: map[tp]int64{},
	}
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:          cfg.GroupID,
		Brokers:     cfg.Brokers,
		Dialer:      cfg.Dialer,
		Topics:      cfg.Topics,
		StartOffset: kafka.FirstOffset,
		// A killed member is evicted after SessionTimeout; kafka-go's 30s
		// default keeps its partitions idle that long after every crash.
		SessionTimeout:   10 * time.Second,
		RebalanceTimeout: 10 * time.Second,
		JoinGroupBackoff: time.Second,
		Logger:           kafka.LoggerFunc(obs.Printf(cfg.Log, slog.LevelDebug, "kafka")),
		ErrorLogger:      kafka.LoggerFunc(obs.Printf(cfg.Log, slog.LevelWarn, "kafka")),
	})
	if err != nil {
		c.report(fmt.Errorf("consumer group %s: %w", cfg.GroupID, err))
		close(c.done)
		return c
	}
	c.group = group
	go c.run(ctx)
	if cfg.StallTimeout > 0 {
		go c.watch(ctx)
	}
	return c
}

// Batches delivers fetched messages: each slice is one fetch of one
// partition, in offset order. The slices and the bytes of their messages
// are the caller's.
func (c *Reader) Batches() <-chan []kafka.Message { return c.batches }

// Errors delivers the error that stopped fetching (ctx's error on shutdown)
// or ErrStalled.
func (c *Reader) Errors() <-chan error { return c.errs }

// run follows the group's generations: each one's partitions get a fetch
// loop that ends with the generation.
func (c *Reader) run(ctx context.Context) {
	defer close(c.done)
	for {
		gen, err := c.group.Next(ctx)
		switch {
		case ctx.Err() != nil:
			c.report(ctx.Err())
			return
		case errors.Is(err, kafka.ErrGroupClosed):
			c.report(err)
			return
		case err != nil:
			c.cfg.Log.WarnContext(ctx, "joining the consumer group failed; retrying", "group", c.cfg.GroupID, obs.KeyError, err.Error())
			if !sleep(ctx, time.Second) {
				c.report(ctx.Err())
				return
			}
			continue
		}
		c.gen.Store(gen)
		for topic, parts := range gen.Assignments {
			for _, p := range parts {
				gen.Start(func(ctx context.Context) { c.fetchLoop(ctx, topic, p.ID, p.Offset) })
			}
		}
	}
}

// fetchLoop fetches one partition from offset until ctx (its generation)
// ends, handing each fetch's messages over as one slice.
func (c *Reader) fetchLoop(ctx context.Context, topic string, partition int, offset int64) {
	k := tp{topic, partition}
	c.mu.Lock()
	next := c.fetched[k]
	if next == nil {
		next = new(atomic.Int64)
		c.fetched[k] = next
	}
	c.mu.Unlock()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		msgs, err := c.fetchOnce(ctx, topic, partition, offset)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, kafka.OffsetOutOfRange) {
				// Retention removed the next message (or the log was cut
				// short): start again from the oldest one kept.
				c.cfg.Log.WarnContext(ctx, "offset out of range; reading from the partition's first offset", "topic", topic, "partition", partition, "offset", offset)
				offset = kafka.FirstOffset
				continue
			}
			c.cfg.Log.WarnContext(ctx, "fetch failed; retrying", "topic", topic, "partition", partition, "offset", offset, "in", backoff.String(), obs.KeyError, err.Error())
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if len(msgs) == 0 {
			continue
		}
		offset = msgs[len(msgs)-1].Offset + 1
		next.Store(offset)
		c.nFetched.Add(int64(len(msgs)))
		select {
		case c.batches <- msgs:
		case <-ctx.Done():
			return
		}
	}
}

// fetchOnce makes one fetch and copies its messages from offset on (a
// compressed batch can start before it) into one buffer.
func (c *Reader) fetchOnce(ctx context.Context, topic string, partition int, offset int64) ([]kafka.Message, error) {
	res, err := c.client.Fetch(ctx, &kafka.FetchRequest{
		Topic: topic, Partition: partition, Offset: offset,
		MinBytes: int64(max(c.cfg.MinBytes, 1)), MaxBytes: maxFetchBytes, MaxWait: c.cfg.MaxWait,
	})
	if err == nil {
		err = res.Error
	}
	if err != nil {
		return nil, fmt.Errorf("fetch %s/%d at %d: %w", topic, partition, offset, err)
	}
	var (
		msgs []kafka.Message
		buf  []byte // the messages' bytes, in chunks: a full chunk stays with the messages on it
	)
	for {
		r, err := res.Records.ReadRecord()
		if errors.Is(err, io.EOF) {
			return msgs, nil
		}
		if err != nil {
			return msgs, fmt.Errorf("read %s/%d after %d: %w", topic, partition, offset, err)
		}
		if r.Offset < offset {
			closeBytes(r.Key, r.Value)
			continue
		}
		if need := bytesLen(r.Key) + bytesLen(r.Value); cap(buf)-len(buf) < need {
			buf = make([]byte, 0, max(need, arenaChunk))
		}
		m := kafka.Message{Topic: topic, Partition: partition, Offset: r.Offset, HighWaterMark: res.HighWatermark, Time: r.Time}
		if m.Key, buf, err = appendBytes(buf, r.Key); err == nil {
			m.Value, buf, err = appendBytes(buf, r.Value)
		}
		closeBytes(r.Key, r.Value)
		if err != nil {
			return msgs, fmt.Errorf("read %s/%d at %d: %w", topic, partition, r.Offset, err)
		}
		if len(r.Headers) > 0 {
			m.Headers = make([]kafka.Header, len(r.Headers)) // r.Headers is reused by the next record
			for i, h := range r.Headers {
				m.Headers[i] = kafka.Header{Key: h.Key, Value: slices.Clone(h.Value)}
			}
		}
		msgs = append(msgs, m)
	}
}

// arenaChunk is the size of the blocks a fetch's keys and values are copied
// into: a few allocations per fetch, none per message.
const arenaChunk = 256 << 10

func bytesLen(b protocol.Bytes) int {
	if b == nil {
		return 0
	}
	return b.Len()
}

// appendBytes reads b (nil: a null key or value) onto buf and returns the
// bytes read, or nil.
func appendBytes(buf []byte, b protocol.Bytes) ([]byte, []byte, error) {
	if b == nil {
		return nil, buf, nil
	}
	n := b.Len()
	start := len(buf)
	buf = slices.Grow(buf, n)[:start+n] // room is there: the caller made it
	if _, err := io.ReadFull(b, buf[start:]); err != nil {
		return nil, buf[:start], err
	}
	return buf[start : start+n : start+n], buf, nil
}

func closeBytes(bs ...protocol.Bytes) {
	for _, b := range bs {
		if b != nil {
			b.Close()
		}
	}
}

// sleep waits d or until ctx ends; false if ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (c *Reader) report(err error) {
	select {
	case c.errs <- err:
	default:
	}
}

// Commit stores the offsets of msgs (the last one per partition is enough)
// through the current generation. During a rebalance it fails; the messages
// are then re-delivered to whichever member gets their partitions.
func (c *Reader) Commit(ctx context.Context, msgs ...kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	gen := c.gen.Load()
	if gen == nil {
		return fmt.Errorf("commit for group %s: not a member yet", c.cfg.GroupID)
	}
	offsets := map[string]map[int]int64{}
	for _, m := range msgs {
		ps := offsets[m.Topic]
		if ps == nil {
			ps = map[int]int64{}
			offsets[m.Topic] = ps
		}
		ps[m.Partition] = max(ps[m.Partition], m.Offset+1)
	}
	// kafka-go's CommitOffsets takes no context; the coordinator
	// connection's own timeouts bound it.
	done := make(chan error, 1)
	go func() { done <- gen.CommitOffsets(offsets) }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("commit for group %s: %w", c.cfg.GroupID, err)
		}
	case <-ctx.Done():
		return fmt.Errorf("commit for group %s: %w", c.cfg.GroupID, ctx.Err())
	}
	c.mu.Lock()
	for t, ps := range offsets {
		for p, off := range ps {
			if k := (tp{t, p}); off > c.committed[k] {
				c.committed[k] = off
			}
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
		var err error
		if c.group != nil {
			err = c.group.Close()
		}
		<-c.done
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(15 * time.Second):
		c.cfg.Log.Warn("kafka consumer group did not close in 15s; abandoned", "group", c.cfg.GroupID)
		return nil
	}
}
