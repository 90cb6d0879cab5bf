package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
	DefaultBatchInterval = time.Second
)

// WriterConfig configures the Kafka side of the history writer.
type WriterConfig struct {
	Brokers []string `yaml:"brokers"`
	GroupID string   `yaml:"group_id"` // default attnd-history
	Topics  Topics   `yaml:"topics"`
	// A (topic, partition) batch is inserted when it holds BatchRows messages
	// or its first message is BatchInterval old (defaults 50,000 and 1 s).
	// BatchBytes bounds the message bytes held in all batches together
	// (default 32 MiB): past it, the largest batch is inserted early. The
	// decoded rows take about 1.5 times the message bytes.
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
// with the same (topic, partition, first offset, last offset) carries the same
// insert_deduplication_token and adds no rows; any other re-delivery (a
// different batch boundary after a restart or rebalance) is collapsed by the
// ReplacingMergeTree key (event_id, reject_id, ...), exact under FINAL.
//
// Messages are decoded as they arrive into the batch's rows (the columns of
// the table for punches), so a batch holds its rows, not its messages.
// Messages whose value is not valid JSON of their type are logged and
// skipped (committed), so one poison message cannot stop the history.
type Writer struct {
	*Store
	cfg WriterConfig
	log *slog.Logger
	dec publish.PunchDecoder // Run's goroutine only

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

type batchKey struct {
	topic     string
	partition int
}

// batch is what one (topic, partition) delivered since the last insert:
// its rows, decoded, and the offsets they came from.
type batch struct {
	key     batchKey
	first   int64         // offset of the first message
	last    kafka.Message // the last message, without key, value or headers: what the commit needs
	n       int           // messages, decoded or skipped
	bytes   int           // message bytes taken in
	started time.Time
	rows    rowSink
}

// token is the batch's insert_deduplication_token.
func (b *batch) token() string {
	return fmt.Sprintf("%s/%d/%d-%d", b.key.topic, b.key.partition, b.first, b.last.Offset)
}

// rowSink holds the decoded rows of one batch for its table.
type rowSink interface {
	add(w *Writer, m *kafka.Message) // decodes m; an undecodable one is logged and skipped
	len() int
	insert(ctx context.Context, s *Store, token string) error
}

// punchRows decodes punches straight into the table's columns.
type punchRows struct{ cols punchColumns }

func (r *punchRows) add(w *Writer, m *kafka.Message) {
	var p attendance.Punch
	if err := w.dec.Decode(m.Value, &p); err != nil {
		w.undecodable(m, err)
		return
	}
	r.cols.add(&p)
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
		return &punchRows{}, nil
	case t.Rejects:
		return &jsonRows[attendance.Reject]{ins: (*Store).InsertRejects}, nil
	case t.Unmatched:
		return &jsonRows[attendance.Unmatched]{ins: (*Store).InsertUnmatched}, nil
	case t.Files:
		return &jsonRows[attendance.FileRecord]{ins: (*Store).InsertFiles}, nil
	}
	return nil, fmt.Errorf("history writer: no table for topic %q", topic)
}

// pending are the batches being filled, with the message bytes they took in.
type pending struct {
	w       *Writer
	batches map[batchKey]*batch
	bytes   int
}

// add puts m into its batch and returns that batch.
func (p *pending) add(m *kafka.Message) (*batch, error) {
	k := batchKey{m.Topic, m.Partition}
	b := p.batches[k]
	if b == nil {
		rows, err := p.w.newRows(m.Topic)
		if err != nil {
			return nil, err
		}
		b = &batch{key: k, first: m.Offset, started: time.Now(), rows: rows}
		p.batches[k] = b
	}
	b.rows.add(p.w, m)
	b.last = kafka.Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}
	b.n++
	size := len(m.Key) + len(m.Value)
	b.bytes += size
	p.bytes += size
	return b, nil
}

func (p *pending) remove(b *batch) {
	delete(p.batches, b.key)
	p.bytes -= b.bytes
}

// largest is the batch holding the most bytes.
func (p *pending) largest() *batch {
	var big *batch
	for _, b := range p.batches {
		if big == nil || b.bytes > big.bytes {
			big = b
		}
	}
	return big
}

// Run consumes until ctx is cancelled (then it inserts and commits what it
// holds, returns nil) or a Kafka or ClickHouse error stops it.
func (w *Writer) Run(ctx context.Context) error {
	c := w.cfg
	maxWait := min(max(c.BatchInterval/2, 10*time.Millisecond), 500*time.Millisecond)
	r := consume.Start(ctx, consume.Config{
		Brokers: c.Brokers, GroupID: c.GroupID, Dialer: c.Dialer, Transport: c.Transport,
		Topics:  c.Topics.List(),
		MaxWait: maxWait, Buffer: 4096, StallTimeout: c.StallTimeout, Log: w.log,
	})
	defer r.Close()
	msgs, fetchErr := r.Messages(), r.Errors()

	p := &pending{w: w, batches: map[batchKey]*batch{}}
	tickEvery := c.BatchInterval / 4
	if tickEvery < 5*time.Millisecond {
		tickEvery = 5 * time.Millisecond
	}
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()

	flush := func(ctx context.Context, b *batch) error {
		p.remove(b)
		return w.flush(ctx, r, b)
	}
	flushAll := func(ctx context.Context, onlyDue bool) error {
		now := time.Now()
		for _, b := range p.batches {
			if onlyDue && now.Sub(b.started) < c.BatchInterval {
				continue
			}
			if err := flush(ctx, b); err != nil {
				return err
			}
		}
		return nil
	}

	w.log.InfoContext(ctx, "history writer started", "group", c.GroupID, "brokers", c.Brokers,
		"batch_rows", c.BatchRows, "batch_bytes", c.BatchBytes, "batch_interval", c.BatchInterval)
	for {
		select {
		case m := <-msgs:
			b, err := p.add(&m)
			if err != nil {
				return err
			}
			switch {
			case ctx.Err() != nil:
				// Stopping: the shutdown below inserts and commits
				// with a context of its own.
			case b.n >= c.BatchRows:
				err = flush(ctx, b)
			case p.bytes > c.BatchBytes:
				err = flush(ctx, p.largest())
			}
			if err != nil {
				return err
			}
		case <-tick.C:
			if ctx.Err() != nil {
				continue
			}
			if err := flushAll(ctx, true); err != nil {
				return err
			}
		case err := <-fetchErr:
			if ctx.Err() == nil {
				return fmt.Errorf("history writer: %w", err)
			}
			// Shutting down: store and commit what was fetched, with a
			// bounded context of its own.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			for drained := false; !drained; {
				select {
				case m := <-msgs:
					if _, err := p.add(&m); err != nil {
						cancel()
						return err
					}
				default:
					drained = true
				}
			}
			err = flushAll(sctx, false)
			cancel()
			w.log.Info("history writer stopped", "rows", w.rows.Load(), "batches", w.batches.Load())
			return err
		}
	}
}

// flush inserts one batch and then commits its offsets.
func (w *Writer) flush(ctx context.Context, r *consume.Reader, b *batch) error {
	tok := b.token()
	n := b.rows.len()
	if err := b.rows.insert(ctx, w.Store, tok); err != nil {
		return fmt.Errorf("history writer: batch %s: %w", tok, err)
	}
	w.rows.Add(int64(n))
	w.batches.Add(1)
	if w.afterInsert != nil {
		if err := w.afterInsert(b); err != nil {
			return err
		}
	}
	if err := r.Commit(ctx, b.last); err != nil {
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
