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
)

// Default topics and consumer settings of the history writer.
const (
	TopicPunches   = "attendance.punches.v1"
	TopicRejects   = "attendance.rejects.v1"
	TopicUnmatched = "attendance.unmatched.v1"
	TopicFiles     = "attendance.files.v1"

	DefaultGroupID       = "attnd-history"
	DefaultBatchRows     = 10000
	DefaultBatchInterval = time.Second
)

// WriterConfig configures the Kafka side of the history writer.
type WriterConfig struct {
	Brokers []string `yaml:"brokers"`
	GroupID string   `yaml:"group_id"` // default attnd-history
	Topics  Topics   `yaml:"topics"`
	// A (topic, partition) batch is inserted when it holds BatchRows messages
	// or its first message is BatchInterval old (defaults 10,000 and 1 s).
	BatchRows     int           `yaml:"batch_rows"`
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
// Messages whose value is not valid JSON of their type are logged and
// skipped (committed), so one poison message cannot stop the history.
type Writer struct {
	*Store
	cfg WriterConfig
	log *slog.Logger

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

type batch struct {
	key     batchKey
	msgs    []kafka.Message
	started time.Time
}

// token is the batch's insert_deduplication_token.
func (b *batch) token() string {
	return fmt.Sprintf("%s/%d/%d-%d", b.key.topic, b.key.partition, b.msgs[0].Offset, b.msgs[len(b.msgs)-1].Offset)
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

	pending := map[batchKey]*batch{}
	tickEvery := c.BatchInterval / 4
	if tickEvery < 5*time.Millisecond {
		tickEvery = 5 * time.Millisecond
	}
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()

	flushAll := func(ctx context.Context, onlyDue bool) error {
		now := time.Now()
		for k, b := range pending {
			if onlyDue && now.Sub(b.started) < c.BatchInterval {
				continue
			}
			if err := w.flush(ctx, r, b); err != nil {
				return err
			}
			delete(pending, k)
		}
		return nil
	}

	w.log.InfoContext(ctx, "history writer started", "group", c.GroupID, "brokers", c.Brokers, "batch_rows", c.BatchRows, "batch_interval", c.BatchInterval)
	for {
		select {
		case m := <-msgs:
			k := batchKey{m.Topic, m.Partition}
			b := pending[k]
			if b == nil {
				b = &batch{key: k, started: time.Now()}
				pending[k] = b
			}
			b.msgs = append(b.msgs, m)
			if len(b.msgs) >= c.BatchRows {
				if err := w.flush(ctx, r, b); err != nil {
					return err
				}
				delete(pending, k)
			}
		case <-tick.C:
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
			for {
				select {
				case m := <-msgs:
					k := batchKey{m.Topic, m.Partition}
					if pending[k] == nil {
						pending[k] = &batch{key: k, started: time.Now()}
					}
					pending[k].msgs = append(pending[k].msgs, m)
					continue
				default:
				}
				break
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
	n, err := w.insert(ctx, b, tok)
	if err != nil {
		return fmt.Errorf("history writer: batch %s: %w", tok, err)
	}
	w.rows.Add(int64(n))
	w.batches.Add(1)
	if w.afterInsert != nil {
		if err := w.afterInsert(b); err != nil {
			return err
		}
	}
	if err := r.Commit(ctx, b.msgs[len(b.msgs)-1]); err != nil {
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

// insert decodes the batch for its topic's table and inserts it with tok.
// It returns the number of rows inserted.
func (w *Writer) insert(ctx context.Context, b *batch, tok string) (int, error) {
	t := w.cfg.Topics
	switch b.key.topic {
	case t.Punches:
		rows := decodeAll[attendance.Punch](w, b)
		return len(rows), w.InsertPunches(ctx, tok, rows)
	case t.Rejects:
		rows := decodeAll[attendance.Reject](w, b)
		return len(rows), w.InsertRejects(ctx, tok, rows)
	case t.Unmatched:
		rows := decodeAll[attendance.Unmatched](w, b)
		return len(rows), w.InsertUnmatched(ctx, tok, rows)
	case t.Files:
		rows := decodeAll[attendance.FileRecord](w, b)
		return len(rows), w.InsertFiles(ctx, tok, rows)
	}
	return 0, fmt.Errorf("no table for topic %q", b.key.topic)
}

func decodeAll[T any](w *Writer, b *batch) []T {
	out := make([]T, 0, len(b.msgs))
	for _, m := range b.msgs {
		var v T
		if err := json.Unmarshal(m.Value, &v); err != nil {
			w.skipped.Add(1)
			w.log.Error("undecodable message skipped", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err)
			continue
		}
		out = append(out, v)
	}
	return out
}
