// Package publish writes punches, rejects and file records to Kafka with
// segmentio/kafka-go.
//
// Guarantee: a FileWriter's Flush returns nil only once every message handed
// to it has been acknowledged by all in-sync replicas (acks=all); on error,
// the caller must assume none of the unflushed messages were written and
// re-publish them (at-least-once: duplicates are possible, consumers dedupe by
// event_id / reject_id).
package publish

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/obs"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Default topic names.
const (
	DefaultPunchesTopic = "attendance.punches.v1"
	DefaultRejectsTopic = "attendance.rejects.v1"
	DefaultFilesTopic   = "attendance.files.v1"
)

// Topics are the topic names.
type Topics struct {
	Punches string `yaml:"punches"`
	Rejects string `yaml:"rejects"`
	Files   string `yaml:"files"`
}

// SASL configures broker authentication. The password never comes from the
// config file: it is read from the environment variable PasswordEnv
// (default KAFKA_SASL_PASSWORD) into Password.
type SASL struct {
	Mechanism   string `yaml:"mechanism"` // "" (none) | plain | scram-sha-256 | scram-sha-512
	Username    string `yaml:"username"`
	PasswordEnv string `yaml:"password_env"`
	Password    string `yaml:"-"`
}

// TLS configures TLS to the brokers.
type TLS struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Config is the Kafka side of the ingest.
type Config struct {
	Brokers           []string `yaml:"brokers"`
	Topics            Topics   `yaml:"topics"`
	Partitions        int      `yaml:"partitions"`         // for topic creation; default 6
	ReplicationFactor int      `yaml:"replication_factor"` // for topic creation; default 1
	CreateTopics      *bool    `yaml:"create_topics"`      // default true
	ClientID          string   `yaml:"client_id"`
	Compression       string   `yaml:"compression"` // snappy (default) | lz4 | zstd | gzip | none
	ChunkSize         int      `yaml:"chunk_size"`  // messages per write (one request per partition); default 5000
	// BatchTimeout is ignored: a chunk is sent as soon as it is full or the
	// file ends (see produce.go). Kept so that configs written for versions
	// that used kafka-go's Writer still load.
	BatchTimeout time.Duration `yaml:"batch_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"` // default 30s
	Retries      int           `yaml:"retries"`       // attempts per chunk; default 8
	// StallTimeout (consumers only: pusher and history writer) restarts a
	// group reader that fetched nothing this long while its group has lag
	// nobody consumes; default 2m, negative disables.
	StallTimeout time.Duration `yaml:"stall_timeout"`
	SASL         SASL          `yaml:"sasl"`
	TLS          TLS           `yaml:"tls"`
}

// WithDefaults fills zero values.
func (c Config) WithDefaults() Config {
	if c.Topics.Punches == "" {
		c.Topics.Punches = DefaultPunchesTopic
	}
	if c.Topics.Rejects == "" {
		c.Topics.Rejects = DefaultRejectsTopic
	}
	if c.Topics.Files == "" {
		c.Topics.Files = DefaultFilesTopic
	}
	if c.Partitions <= 0 {
		c.Partitions = 6
	}
	if c.ReplicationFactor <= 0 {
		c.ReplicationFactor = 1
	}
	if c.CreateTopics == nil {
		t := true
		c.CreateTopics = &t
	}
	if c.ClientID == "" {
		c.ClientID = "attnd-ingest"
	}
	if c.Compression == "" {
		c.Compression = "snappy"
	}
	if c.ChunkSize <= 0 {
		c.ChunkSize = 5000
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.Retries <= 0 {
		c.Retries = 8
	}
	if c.SASL.PasswordEnv == "" {
		c.SASL.PasswordEnv = "KAFKA_SASL_PASSWORD"
	}
	return c
}

// Validate checks the config; errors name the key (under "kafka.").
func (c Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("kafka.brokers: at least one broker is required"))
	}
	for i, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			errs = append(errs, fmt.Errorf("kafka.brokers[%d]: %q is not host:port", i, b))
		}
	}
	if _, err := compression(c.Compression); err != nil {
		errs = append(errs, fmt.Errorf("kafka.compression: %w", err))
	}
	switch c.SASL.Mechanism {
	case "", "plain", "scram-sha-256", "scram-sha-512":
		if c.SASL.Mechanism != "" && c.SASL.Username == "" {
			errs = append(errs, errors.New("kafka.sasl.username: required with a SASL mechanism"))
		}
	default:
		errs = append(errs, fmt.Errorf("kafka.sasl.mechanism: %q is not plain, scram-sha-256 or scram-sha-512", c.SASL.Mechanism))
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		errs = append(errs, errors.New("kafka.tls: cert_file and key_file go together"))
	}
	return errors.Join(errs...)
}

func compression(name string) (kafka.Compression, error) {
	switch strings.ToLower(name) {
	case "none":
		return 0, nil
	case "gzip":
		return kafka.Gzip, nil
	case "snappy", "":
		return kafka.Snappy, nil
	case "lz4":
		return kafka.Lz4, nil
	case "zstd":
		return kafka.Zstd, nil
	}
	return 0, fmt.Errorf("%q is not none, gzip, snappy, lz4 or zstd", name)
}

func (c Config) transport() (*kafka.Transport, error) {
	t := &kafka.Transport{ClientID: c.ClientID, DialTimeout: 10 * time.Second, MetadataTTL: 5 * time.Second}
	var err error
	if t.SASL, err = c.mechanism(); err != nil {
		return nil, err
	}
	if c.TLS.Enabled {
		tc := &tls.Config{ServerName: c.TLS.ServerName, InsecureSkipVerify: c.TLS.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
		if c.TLS.CAFile != "" {
			pem, err := os.ReadFile(c.TLS.CAFile)
			if err != nil {
				return nil, fmt.Errorf("kafka.tls.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("kafka.tls.ca_file: %s holds no PEM certificate", c.TLS.CAFile)
			}
			tc.RootCAs = pool
		}
		if c.TLS.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("kafka.tls: load client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		t.TLS = tc
	}
	return t, nil
}

func (c Config) mechanism() (sasl.Mechanism, error) {
	switch c.SASL.Mechanism {
	case "":
		return nil, nil
	case "plain":
		return plain.Mechanism{Username: c.SASL.Username, Password: c.SASL.Password}, nil
	case "scram-sha-256", "scram-sha-512":
		algo := scram.SHA256
		if c.SASL.Mechanism == "scram-sha-512" {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, c.SASL.Username, c.SASL.Password)
		if err != nil {
			return nil, fmt.Errorf("kafka.sasl: %s: %w", c.SASL.Mechanism, err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("kafka.sasl.mechanism: %q is not plain, scram-sha-256 or scram-sha-512", c.SASL.Mechanism)
}

// Publisher sends every file's messages through one kafka-go Client (see
// produce.go for why not kafka-go's Writer).
type Publisher struct {
	cfg      Config
	client   *kafka.Client
	comp     kafka.Compression
	balancer KeyHash // key = partition: one person's punches stay in order
	parts    partitionCache
	bufs     bufPool       // record sets, handed to kafka-go
	scratch  bufPool       // uncompressed records
	dialer   *kafka.Dialer // Ping's fresh connections
	logger   *slog.Logger
	metrics  *obs.IngestMetrics
	// chunks recycles the message buffers of FileWriters (*[]kafka.Message
	// of capacity ChunkSize): a file of a hundred punches would otherwise
	// allocate and zero room for a whole chunk, 750 KB at the default.
	chunks sync.Pool
}

// New builds a Publisher (no I/O yet; see EnsureTopics and Ping). metrics may be nil.
func New(cfg Config, logger *slog.Logger, metrics *obs.IngestMetrics) (*Publisher, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tr, err := cfg.transport()
	if err != nil {
		return nil, err
	}
	comp, _ := compression(cfg.Compression)
	if logger == nil {
		logger = obs.Discard()
	}
	dialer, err := cfg.Dialer()
	if err != nil {
		return nil, err
	}
	return &Publisher{
		cfg:     cfg,
		dialer:  dialer,
		client:  &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr, Timeout: cfg.WriteTimeout},
		comp:    comp,
		logger:  logger.With(obs.KeyStage, "publish"),
		metrics: metrics,
	}, nil
}

// Config is the effective config (with defaults).
func (p *Publisher) Config() Config { return p.cfg }

// EnsureTopics creates the three topics with the configured partitions and
// replication; a topic that already exists is fine.
func (p *Publisher) EnsureTopics(ctx context.Context) error {
	if !*p.cfg.CreateTopics {
		return nil
	}
	var topics []kafka.TopicConfig
	for _, t := range []string{p.cfg.Topics.Punches, p.cfg.Topics.Rejects, p.cfg.Topics.Files} {
		topics = append(topics, kafka.TopicConfig{Topic: t, NumPartitions: p.cfg.Partitions, ReplicationFactor: p.cfg.ReplicationFactor})
	}
	resp, err := p.client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: topics})
	if err != nil {
		return fmt.Errorf("publish: create topics: %w", err)
	}
	var errs []error
	for name, e := range resp.Errors {
		if e != nil && !errors.Is(e, kafka.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("publish: create topic %s: %w", name, e))
		}
	}
	return errors.Join(errs...)
}

// Ping checks that a broker answers now: it dials the configured brokers in
// turn (with the writer's SASL and TLS) and asks for the cluster's brokers on
// that fresh connection. kafka-go's Client serves metadata from the
// transport's cache, which kept answering after the broker was gone, so it
// cannot tell readiness.
func (p *Publisher) Ping(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	var errs []error
	for _, b := range p.cfg.Brokers {
		err := p.pingBroker(ctx, b)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("publish: no kafka broker answers: %w", errors.Join(errs...))
}

func (p *Publisher) pingBroker(ctx context.Context, broker string) error {
	conn, err := p.dialer.DialContext(ctx, "tcp", broker)
	if err != nil {
		return fmt.Errorf("dial %s: %w", broker, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return fmt.Errorf("%s: %w", broker, err)
	}
	if _, err := conn.Brokers(); err != nil {
		return fmt.Errorf("%s: metadata: %w", broker, err)
	}
	return nil
}

// Close flushes nothing (every write is synchronous) and closes every
// connection.
func (p *Publisher) Close() error {
	if tr, ok := p.client.Transport.(*kafka.Transport); ok {
		tr.CloseIdleConnections()
	}
	return nil
}

// write writes msgs until every one is acknowledged, retrying only the
// failed ones, up to cfg.Retries rounds.
func (p *Publisher) write(ctx context.Context, msgs []kafka.Message) error {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		start := time.Now()
		// A deadline of its own: a write to a broker that went away
		// mid-request must not hold the file (and its source) forever.
		wctx, cancel := context.WithTimeout(ctx, p.cfg.WriteTimeout)
		failed, err := p.writeOnce(wctx, msgs)
		cancel()
		outcome := "ok"
		if err != nil {
			outcome = "error"
		}
		if p.metrics != nil {
			p.metrics.KafkaLatency.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
		}
		if err == nil {
			return nil
		}
		msgs = failed
		if ctx.Err() != nil {
			return fmt.Errorf("publish: write %d messages: %w", len(msgs), ctx.Err())
		}
		if attempt >= p.cfg.Retries {
			return fmt.Errorf("publish: write %d messages after %d attempts: %w", len(msgs), attempt, err)
		}
		p.logger.Warn("kafka write failed, retrying", "attempt", attempt, "messages", len(msgs), obs.KeyError, err.Error())
		select {
		case <-ctx.Done():
			return fmt.Errorf("publish: write %d messages: %w", len(msgs), ctx.Err())
		case <-time.After(backoff):
		}
		if backoff *= 2; backoff > 5*time.Second {
			backoff = 5 * time.Second
		}
	}
}

// writeOnce sends msgs, one request per topic partition at a time and the
// partitions in parallel; it returns the messages not acknowledged, in
// order, with the errors.
func (p *Publisher) writeOnce(ctx context.Context, msgs []kafka.Message) ([]kafka.Message, error) {
	groups, err := p.group(ctx, msgs)
	if err != nil {
		return msgs, err
	}
	acked := make([]int, len(groups))
	errs := make([]error, len(groups))
	if len(groups) == 1 {
		acked[0], errs[0] = p.produce(ctx, groups[0])
	} else {
		var wg sync.WaitGroup
		for i, g := range groups {
			wg.Go(func() { acked[i], errs[i] = p.produce(ctx, g) })
		}
		wg.Wait()
	}
	var failed []kafka.Message
	for i, g := range groups {
		if p.metrics != nil && acked[i] > 0 {
			p.metrics.KafkaMessages.WithLabelValues(g.topic).Add(float64(acked[i]))
		}
		if errs[i] != nil {
			failed = append(failed, g.msgs[acked[i]:]...)
		}
	}
	return failed, errors.Join(errs...)
}

// FileMeta describes the file a FileWriter publishes.
type FileMeta struct {
	SourceFile string // the name events carry
	SHA256     string
	Site       string
}

// FileWriter publishes one file's punches and rejects in chunks. It
// implements parsekit.Emitter. Not safe for concurrent use.
//
// Writes are pipelined: a full chunk is handed to one sender goroutine and
// the caller goes on building the next chunk while it is written. The sender
// makes one write at a time, in chunk order, so messages of one
// key keep their order on their partition. After a failed write the writer is
// spent: Punch, Reject and Flush return that error, and the caller must
// re-publish the file (nothing after the last acknowledged chunk is known to
// be written).
type FileWriter struct {
	p       *Publisher
	ctx     context.Context
	meta    FileMeta
	buf     []kafka.Message
	nPunch  int // buffered
	nReject int

	arena arena
	queue chan chunk    // to the sender; nil when no sender runs
	done  chan struct{} // closed when the sender has drained queue

	mu       sync.Mutex
	err      error // the first write error
	ackPunch int   // acknowledged
	ackRej   int
}

// arena hands out the keys and values of punch messages in blocks, a few
// allocations per hundred messages instead of two per message. What it
// handed out is never written again (a full block is replaced, not reused),
// so a message stays valid until its chunk is written.
type arena struct{ bytes []byte }

const (
	arenaBytes   = 64 << 10
	maxPunchSize = 2 << 10 // room kept for one message; a longer one still fits (append grows)
)

// buf returns an empty slice with room for about one message.
func (a *arena) buf() []byte {
	if cap(a.bytes)-len(a.bytes) < maxPunchSize {
		a.bytes = make([]byte, 0, arenaBytes)
	}
	return a.bytes[len(a.bytes):]
}

// used marks b, from buf, as handed out.
func (a *arena) used(b []byte) {
	if cap(b) == cap(a.bytes)-len(a.bytes) { // b did not outgrow the block
		a.bytes = a.bytes[:len(a.bytes)+len(b)]
	}
}

type chunk struct {
	msgs             []kafka.Message
	punches, rejects int
}

// File starts publishing one file; ctx bounds every write made for it.
func (p *Publisher) File(ctx context.Context, meta FileMeta) *FileWriter {
	return &FileWriter{p: p, ctx: ctx, meta: meta, buf: p.chunk()}
}

// Punch queues a punch (key = PartitionKey, value = JSON, no headers) and
// hands a full chunk to the sender.
//
// Punch messages carry no headers: the value holds every field (event_id,
// source_file, layout), and kafka-go's reader decodes each header of each
// message into two fresh allocations, which with the four headers punches
// once had was a tenth of the pusher's CPU in the backfill
// (docs/benchmarks.md). The file's SHA-256 is on its files-topic record.
func (w *FileWriter) Punch(pu attendance.Punch) error {
	b := w.arena.buf()
	b = appendPartitionKey(b, &pu)
	k := len(b)
	b = appendPunch(b, &pu)
	w.arena.used(b)
	w.buf = append(w.buf, kafka.Message{
		Topic: w.p.cfg.Topics.Punches,
		Key:   b[:k:k],
		Value: b[k:len(b):len(b)],
	})
	w.nPunch++
	return w.maybeSend()
}

// Reject queues a reject (key = site/file) and hands a full chunk to the sender.
func (w *FileWriter) Reject(r attendance.Reject) error {
	val, err := json.Marshal(&r)
	if err != nil {
		return fmt.Errorf("publish: encode reject %s: %w", r.RejectID, err)
	}
	w.buf = append(w.buf, kafka.Message{
		Topic: w.p.cfg.Topics.Rejects,
		Key:   []byte(r.Site + "/" + r.File),
		Value: val,
		Headers: []kafka.Header{
			{Key: "source_file", Value: []byte(r.File)},
			{Key: "sha256", Value: []byte(w.meta.SHA256)},
			{Key: "layout", Value: []byte(r.Layout)},
			{Key: "reject_id", Value: []byte(r.RejectID)},
		},
	})
	w.nReject++
	return w.maybeSend()
}

func (w *FileWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return fmt.Errorf("publish %s: %w", w.meta.SourceFile, w.err)
	}
	return nil
}

func (w *FileWriter) maybeSend() error {
	if len(w.buf) < w.p.cfg.ChunkSize {
		return nil
	}
	if err := w.failed(); err != nil {
		return err
	}
	w.send()
	return nil
}

// send hands the buffer to the sender (starting it if needed); it blocks
// while one chunk is queued and one is being written (back-pressure).
func (w *FileWriter) send() {
	if w.queue == nil {
		w.queue = make(chan chunk, 1)
		w.done = make(chan struct{})
		go w.sender(w.queue, w.done)
	}
	w.queue <- chunk{msgs: w.buf, punches: w.nPunch, rejects: w.nReject}
	w.buf = w.p.chunk()
	w.nPunch, w.nReject = 0, 0
}

func (w *FileWriter) sender(queue <-chan chunk, done chan<- struct{}) {
	defer close(done)
	for c := range queue {
		if w.failed() != nil {
			continue // drain: after a failure nothing more is written
		}
		err := w.p.write(w.ctx, c.msgs)
		w.p.recycle(c.msgs) // write copied what it sent into its record batches
		w.mu.Lock()
		if err != nil {
			w.err = err
		} else {
			w.ackPunch += c.punches
			w.ackRej += c.rejects
		}
		w.mu.Unlock()
	}
}

// chunk returns an empty message buffer of capacity ChunkSize.
func (p *Publisher) chunk() []kafka.Message {
	if b, ok := p.chunks.Get().(*[]kafka.Message); ok {
		return (*b)[:0]
	}
	return make([]kafka.Message, 0, p.cfg.ChunkSize)
}

// recycle returns a buffer from chunk, cleared so that it keeps no message
// bytes alive.
func (p *Publisher) recycle(msgs []kafka.Message) {
	clear(msgs)
	msgs = msgs[:0]
	p.chunks.Put(&msgs)
}

// Flush writes what is buffered and returns once every message handed to
// the writer so far is acknowledged (nil), or with the first write error.
func (w *FileWriter) Flush() error {
	if len(w.buf) > 0 && w.failed() == nil {
		w.send()
	}
	if w.queue != nil {
		close(w.queue)
		<-w.done
		w.queue, w.done = nil, nil
	}
	return w.failed()
}

// errClosed marks a FileWriter closed before its last Flush.
var errClosed = errors.New("file writer closed before flush")

// Close ends the writer: the sender stops without writing what is still
// buffered (a chunk already being written finishes), and a later Flush
// returns an error. Call it when done with the file, after Flush or when
// giving up on the file.
func (w *FileWriter) Close() {
	w.mu.Lock()
	if w.err == nil {
		w.err = errClosed
	}
	w.mu.Unlock()
	if w.queue != nil {
		close(w.queue)
		<-w.done
		w.queue, w.done = nil, nil
	}
}

// Acked returns how many punches and rejects were acknowledged so far.
func (w *FileWriter) Acked() (punches, rejects int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ackPunch, w.ackRej
}

// PublishFile publishes a file record (key = sha256) to the files topic and
// waits for its acknowledgement.
func (p *Publisher) PublishFile(ctx context.Context, rec attendance.FileRecord) error {
	val, err := json.Marshal(&rec)
	if err != nil {
		return fmt.Errorf("publish: encode file record: %w", err)
	}
	msg := kafka.Message{
		Topic: p.cfg.Topics.Files,
		Key:   []byte(rec.SHA256),
		Value: val,
		Headers: []kafka.Header{
			{Key: "source_file", Value: []byte(rec.Path)},
			{Key: "sha256", Value: []byte(rec.SHA256)},
			{Key: "layout", Value: []byte(rec.Layout)},
			{Key: "state", Value: []byte(rec.State)},
		},
	}
	if err := p.write(ctx, []kafka.Message{msg}); err != nil {
		return fmt.Errorf("publish file record %s: %w", rec.Path, err)
	}
	return nil
}
