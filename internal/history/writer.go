package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/consume"
	"github.com/attendance-pipeline/attnd/internal/obs"
	"github.com/attendance-pipeline/attnd/internal/publish"
)

// Default topics and consumer settings of the history writer.
const (
	TopicPunches   = "attendance.punches.v1"
	TopicRejects   = "attendance.rejects.v1"
	TopicUnmatched = "attendance.unmatched.v1"
	TopicFiles     = "attendance.files.v1"

	DefaultGroupID       = "attnd-history"
	DefaultBatchRows     = 50_000
	DefaultBatchBytes    = 32 << 20
	DefaultBatchInterval = 5 * time.Second
)

// WriterConfig configures the Kafka side of the history writer.
type WriterConfig struct {
	Brokers []string `yaml:"brokers"`
	GroupID string   `yaml:"group_id"` // default attnd-history
	Topics  Topics   `yaml:"topics"`
	// A topic's batch (all its partitions) is inserted when it holds
	// BatchRows messages or BatchBytes of message keys and values, or when
	// its first message is BatchInterval old (defaults 50,000, 32 MiB and
	// 5 s), or as soon as the writer has caught up with the topics (every
	// partition's last fetch reached its high watermark and the batch is a
	// fetch wait old, 0.5 s with the default interval; or the fetches
	// returned nothing for two fetch waits); one insert runs while the next
	// batch fills, so the writer holds at most about two batches (decoded
	// punches take about as much memory as their messages, plus the
	// driver's copy of the batch being inserted).
	BatchRows     int           `yaml:"batch_rows"`
	BatchBytes    int           `yaml:"batch_bytes"`
	BatchInterval time.Duration `yaml:"batch_interval"`
	// Dialer carries SASL and TLS for production brokers (publish.Config.Dialer); nil dials plain TCP.
	Dialer *kafka.Dialer `yaml:"-"`
	// Transport carries the same for the group-lag queries; nil is plain TCP.
	Transport *kafka.Transport `yaml:"-"`
	// StallTimeout: see consume.Config; 0 is consume.DefaultStallTimeout.
	StallTimeout time.Duration `yaml:"-"`
}

// Topics names the four topics the writer consumes; empty means the default.
type Topics struct {
	Punches   string `yaml:"punches"`
	Rejects   string `yaml:"rejects"`
	Unmatched string `yaml:"unmatched"`
	Files     string `yaml:"files"`
}

// List is the topics as the writer's consumer group reads them.
func (t Topics) List() []string { return []string{t.Punches, t.Rejects, t.Unmatched, t.Files} }

func (c WriterConfig) withDefaults() WriterConfig {
	if c.GroupID == "" {
		c.GroupID = DefaultGroupID
	}
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&c.Topics.Punches, TopicPunches)
	def(&c.Topics.Rejects, TopicRejects)
	def(&c.Topics.Unmatched, TopicUnmatched)
	def(&c.Topics.Files, TopicFiles)
	if c.BatchRows <= 0 {
		c.BatchRows = DefaultBatchRows
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.BatchInterval <= 0 {
		c.BatchInterval = DefaultBatchInterval
	}
	return c
}

// Writer copies the punches, rejects, unmatched and files topics into
// ClickHouse.
//
// Guarantee: every event exactly once in effect in the history. Delivery is
// at least once (offsets are committed only after the insert of the batch
// succeeded; a crash in between re-delivers the batch); a re-delivered batch
// with the same offset ranges (topic, and first and last offset of each
// partition) carries the same insert_deduplication_token and adds no rows;
// any other re-delivery (different batch boundaries after a restart or
// rebalance) is collapsed by the ReplacingMergeTree key (event_id,
// reject_id, ...), exact under FINAL.
//
// A batch is one topic's messages from all its partitions: one insert per
// topic, not per partition, so inserts are as large as the memory bound
// allows (the engine's cost is largely per insert and per part). Messages are
// decoded as they arrive into the batch's rows (the columns of the table for
// punches), so a batch holds its rows, not its messages. One insert runs in
// the background while the next batch fills; offsets are committed in batch
// order, each after its insert. Messages whose value is not valid JSON of
// their type are logged and skipped (committed), so one poison message cannot
// stop the history.
type Writer struct {
	*Store
	cfg WriterConfig
	log *slog.Logger
	dec publish.PunchDecoder // Run's goroutine only
	// lastPunches is how many rows the last punch batch had: the next one's
	// columns start that large instead of growing by doubling.
	lastPunches int

	// afterInsert, if set (tests), runs after a batch's insert and before its
	// commit; an error from it stops Run at once without committing (a crash).
	afterInsert func(b *batch) error

	rows, batches, skipped, commits atomic.Int64
}

// NewWriter returns a writer that stores into store.
func NewWriter(store *Store, cfg WriterConfig, log *slog.Logger) (*Writer, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("history writer: no kafka brokers")
	}
	if log == nil {
		log = slog.Default()
	}
	return &Writer{Store: store, cfg: cfg.withDefaults(), log: log.With(obs.KeyStage, "history")}, nil
}

// Stats are the writer's counters since it was created.
type Stats struct {
	Rows, Batches, Skipped, Commits int64
}

// Stats returns the counters: rows inserted, batches inserted, messages
// skipped as undecodable, offset commits.
func (w *Writer) Stats() Stats {
	return Stats{Rows: w.rows.Load(), Batches: w.batches.Load(), Skipped: w.skipped.Load(), Commits: w.commits.Load()}
}

// span is the offsets a batch took from one partition.
type span struct {
	first int64
	last  kafka.Message // without key, value or headers: what the commit needs
}

// batch is what one topic delivered since its last insert: its rows,
// decoded, and the offsets they came from, by partition.
type batch struct {
	topic   string
	spans   map[int]*span
	n       int // messages, decoded or skipped
	bytes   int // message keys and values taken in
	started time.Time
	rows    rowSink
}

// token is the batch's insert_deduplication_token: the topic and the offset
// range of every partition, in partition order.
func (b *batch) token() string {
	parts := make([]int, 0, len(b.spans))
	for p := range b.spans {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	var sb strings.Builder
	sb.WriteString(b.topic)
	for i, p := range parts {
		sep := "/"
		if i > 0 {
			sep = ","
		}
		fmt.Fprintf(&sb, "%s%d:%d-%d", sep, p, b.spans[p].first, b.spans[p].last.Offset)
	}
	return sb.String()
}

// lasts are the last messages of every partition, what Commit needs.
func (b *batch) lasts() []kafka.Message {
	out := make([]kafka.Message, 0, len(b.spans))
	for _, sp := range b.spans {
		out = append(out, sp.last)
	}
	return out
}

// rowSink holds the decoded rows of one batch for its table.
type rowSink interface {
	add(w *Writer, m *kafka.Message) // decodes m; an undecodable one is logged and skipped
	len() int
	insert(ctx context.Context, s *Store, token string) error
}

// punchRows decodes punches straight into the table's columns.
type punchRows struct {
	cols punchColumns
	p    attendance.Punch // decoded into, then copied to the columns
}

func (r *punchRows) add(w *Writer, m *kafka.Message) {
	if err := w.dec.Decode(m.Value, &r.p); err != nil {
		w.undecodable(m, err)
		return
	}
	r.cols.add(&r.p)
}

func (r *punchRows) len() int { return r.cols.len() }

func (r *punchRows) insert(ctx context.Context, s *Store, token string) error {
	return s.insertPunchColumns(ctx, token, &r.cols)
}

// jsonRows decodes the low-volume topics with encoding/json.
type jsonRows[T any] struct {
	rows []T
	ins  func(*Store, context.Context, string, []T) error
}

func (r *jsonRows[T]) add(w *Writer, m *kafka.Message) {
	var v T
	if err := json.Unmarshal(m.Value, &v); err != nil {
		w.undecodable(m, err)
		return
	}
	r.rows = append(r.rows, v)
}

func (r *jsonRows[T]) len() int { return len(r.rows) }

func (r *jsonRows[T]) insert(ctx context.Context, s *Store, token string) error {
	return r.ins(s, ctx, token, r.rows)
}

func (w *Writer) undecodable(m *kafka.Message, err error) {
	w.skipped.Add(1)
	w.log.Error("undecodable message skipped", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err)
}

// newRows returns the row sink of a topic's table.
func (w *Writer) newRows(topic string) (rowSink, error) {
	t := w.cfg.Topics
	switch topic {
	case t.Punches:
		r := &punchRows{}
		r.cols.grow(min(w.lastPunches, w.cfg.BatchRows))
		return r, nil
	case t.Rejects:
		return &jsonRows[attendance.Reject]{ins: (*Store).InsertRejects}, nil
	case t.Unmatched:
		return &jsonRows[attendance.Unmatched]{ins: (*Store).InsertUnmatched}, nil
	case t.Files:
		return &jsonRows[attendance.FileRecord]{ins: (*Store).InsertFiles}, nil
	}
	return nil, fmt.Errorf("history writer: no table for topic %q", topic)
}

// add puts m into its topic's batch in pending and returns that batch.
func (w *Writer) add(pending map[string]*batch, m *kafka.Message) (*batch, error) {
	b := pending[m.Topic]
	if b == nil {
		rows, err := w.newRows(m.Topic)
		if err != nil {
			return nil, err
		}
		b = &batch{topic: m.Topic, spans: map[int]*span{}, started: time.Now(), rows: rows}
		pending[m.Topic] = b
	}
	b.rows.add(w, m)
	sp := b.spans[m.Partition]
	if sp == nil {
		sp = &span{first: m.Offset}
		b.spans[m.Partition] = sp
	}
	sp.last = kafka.Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}
	b.n++
	b.bytes += len(m.Key) + len(m.Value)
	return b, nil
}

// partitionKey names a topic partition.
type partitionKey struct {
	topic     string
	partition int
}

// Run consumes until ctx is cancelled (then it inserts and commits what it
// holds, returns nil) or a Kafka or ClickHouse error stops it.
func (w *Writer) Run(ctx context.Context) error {
	c := w.cfg
	maxWait := min(max(c.BatchInterval/2, 10*time.Millisecond), 500*time.Millisecond)
	r := consume.Start(ctx, consume.Config{
		Brokers: c.Brokers, GroupID: c.GroupID, Dialer: c.Dialer, Transport: c.Transport,
		Topics:  c.Topics.List(),
		MaxWait: maxWait, MinBytes: 1 << 20, Buffer: 4096, StallTimeout: c.StallTimeout, Log: w.log,
	})
	defer r.Close()
	msgs, fetchErr := r.Messages(), r.Errors()

	pending := map[string]*batch{}
	// A partial batch waits for BatchInterval only while messages keep
	// coming. Once the writer has caught up with the topics, waiting longer
	// would only delay the rows (at the end of a backfill, the last batch
	// waited out the whole interval). Caught up: every partition's last
	// message was the last one below the high watermark its fetch reported,
	// or nothing came for two fetch waits. A batch is at least maxWait old
	// before it goes out early, so a trickle makes at most two inserts a
	// second per table.
	idle := 2 * maxWait
	lastMsg := time.Now()
	behind := map[partitionKey]bool{} // partitions whose last message is below its fetch's high watermark
	var (
		at       partitionKey // the last message's partition (no topic before the first)
		atBehind bool
	)
	note := func(m *kafka.Message) {
		k, b := partitionKey{m.Topic, m.Partition}, m.Offset+1 < m.HighWaterMark
		if k == at && b == atBehind {
			return // messages come in runs of one partition
		}
		at, atBehind = k, b
		if b {
			behind[k] = true
		} else {
			delete(behind, k)
		}
	}
	tickEvery := max(min(c.BatchInterval/4, idle/2), 5*time.Millisecond)
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()

	// Inserts and commits outlive a stop by up to 30 s: what was fetched is
	// stored and committed on the way out.
	ictx, icancel := context.WithCancel(context.WithoutCancel(ctx))
	defer icancel()
	stopLater := context.AfterFunc(ctx, func() { time.AfterFunc(30*time.Second, icancel) })
	defer stopLater()

	// The insert in flight: its batch and where its result arrives.
	var busy *batch
	var busyErr chan error
	defer func() {
		if busy != nil {
			icancel()
			<-busyErr // never leave an insert running behind Run
		}
	}()
	// settle takes the result of the insert in flight and commits its offsets.
	settle := func(err error) error {
		b := busy
		busy, busyErr = nil, nil
		if err != nil {
			return fmt.Errorf("history writer: batch %s: %w", b.token(), err)
		}
		return w.inserted(ictx, r, b)
	}
	wait := func() error {
		if busy == nil {
			return nil
		}
		return settle(<-busyErr)
	}
	// flush starts inserting b once the insert before it is committed.
	flush := func(b *batch) error {
		delete(pending, b.topic)
		if b.topic == c.Topics.Punches {
			w.lastPunches = b.n
		}
		if err := wait(); err != nil {
			return err
		}
		busy, busyErr = b, make(chan error, 1)
		go func(done chan<- error) { done <- b.rows.insert(ictx, w.Store, b.token()) }(busyErr)
		return nil
	}
	flushAll := func(onlyDue bool) error {
		now := time.Now()
		idleLong := now.Sub(lastMsg) >= idle
		atEnd := len(behind) == 0
		for _, b := range pending {
			age := now.Sub(b.started)
			if onlyDue && age < c.BatchInterval && !idleLong && !(atEnd && age >= maxWait) {
				continue
			}
			if err := flush(b); err != nil {
				return err
			}
		}
		return nil
	}

	w.log.InfoContext(ctx, "history writer started", "group", c.GroupID, "brokers", c.Brokers,
		"batch_rows", c.BatchRows, "batch_bytes", c.BatchBytes, "batch_interval", c.BatchInterval)
	take := func(m *kafka.Message) error {
		note(m)
		b, err := w.add(pending, m)
		if err != nil {
			return err
		}
		if b.n >= c.BatchRows || b.bytes >= c.BatchBytes {
			return flush(b)
		}
		return nil
	}
	for {
		select {
		case m := <-msgs:
			if err := take(&m); err != nil {
				return err
			}
			// What else is fetched already, without a full select each.
		more:
			for range 1024 {
				select {
				case m := <-msgs:
					if err := take(&m); err != nil {
						return err
					}
				default:
					break more
				}
			}
			lastMsg = time.Now()
		case err := <-busyErr:
			if err := settle(err); err != nil {
				return err
			}
		case <-tick.C:
			if err := flushAll(true); err != nil {
				return err
			}
		case err := <-fetchErr:
			if ctx.Err() == nil {
				return fmt.Errorf("history writer: %w", err)
			}
			// Shutting down: store and commit what was fetched.
			for drained := false; !drained; {
				select {
				case m := <-msgs:
					if _, err := w.add(pending, &m); err != nil {
						return err
					}
				default:
					drained = true
				}
			}
			err = flushAll(false)
			if err == nil {
				err = wait()
			}
			w.log.Info("history writer stopped", "rows", w.rows.Load(), "batches", w.batches.Load())
			return err
		}
	}
}

// inserted counts an inserted batch and commits its offsets.
func (w *Writer) inserted(ctx context.Context, r *consume.Reader, b *batch) error {
	tok := b.token()
	n := b.rows.len()
	w.rows.Add(int64(n))
	w.batches.Add(1)
	if w.afterInsert != nil {
		if err := w.afterInsert(b); err != nil {
			return err
		}
	}
	if err := r.Commit(ctx, b.lasts()...); err != nil {
		// The rows are stored; an uncommitted batch is re-delivered and
		// collapses by token or key. Only a stopped context is fatal.
		if ctx.Err() != nil {
			return fmt.Errorf("history writer: commit %s: %w", tok, err)
		}
		w.log.WarnContext(ctx, "offset commit failed; batch will be re-delivered", "token", tok, "err", err)
		return nil
	}
	w.commits.Add(1)
	w.log.DebugContext(ctx, "batch stored", "token", tok, "rows", n)
	return nil
}
