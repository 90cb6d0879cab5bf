// Package devstack starts the embedded engines on loopback: franz-go's kfake
// Kafka broker with the pipeline's topics, the ClickHouse engine (libchdb.so)
// behind ClickHouse's HTTP interface, and optionally the Daou simulator, and
// writes their addresses to DIR/stack.json. The ingest and the pusher talk to
// it exactly as to production servers; only addresses differ.
//
// Durability: ClickHouse data lives under DIR/clickhouse and Kafka's under
// DIR/kafka; both survive a restart, a kill -9 included (topics, records and
// the consumer groups' committed offsets). Like Kafka's default, the broker
// writes through the page cache and syncs a segment when it rolls and on
// close, so only a power loss can take the newest records. Records are kept
// for Config.Retention (Kafka's default, seven days), checked at start and
// hourly; the stages have consumed them long before.
package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/twmb/franz-go/pkg/kmsg"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/attendance-pipeline/attnd/internal/chdb"
	"github.com/attendance-pipeline/attnd/internal/chserver"
)

// Topics seeded in the broker.
var Topics = []string{"attendance.punches.v1", "attendance.rejects.v1", "attendance.unmatched.v1", "attendance.files.v1"}

// Config places the stack.
type Config struct {
	Dir            string        // stack.json, Kafka data (kafka/) and ClickHouse data (clickhouse/) go here
	KafkaPort      int           // 0 = a free port
	ClickHousePort int           // 0 = a free port
	DaouPort       int           // 0 = a free port
	Partitions     int32         // per topic; default 6
	Retention      time.Duration // how long Kafka keeps records; default DefaultRetention
	Daou           http.Handler  // the Daou simulator; nil = none
	Log            *slog.Logger
}

// Stack is a running devstack; the fields are what stack.json holds.
type Stack struct {
	Kafka          string `json:"kafka"`
	ClickHouseHTTP string `json:"clickhouse_http"`
	Daou           string `json:"daou,omitempty"`

	kafka     *kfake.Cluster
	chh       *chserver.Handler
	sess      *chdb.Session
	ch        *chserver.Server
	daou      *http.Server
	dir       string
	closed    bool
	retention chan struct{} // closed to stop the retention loop
	retained  chan struct{} // closed when it has stopped
	kafkaDown atomic.Bool
}

// Start starts the engines and writes DIR/stack.json.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = 6
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "clickhouse"), 0o755); err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	s := &Stack{dir: cfg.Dir}
	fail := func(err error) (*Stack, error) {
		s.Close()
		return nil, err
	}
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(cfg.Partitions, Topics...), kfake.AllowAutoTopicCreation(),
		kfake.DataDir(filepath.Join(cfg.Dir, "kafka")),
		kfake.BrokerConfigs(map[string]string{"log.retention.ms": strconv.FormatInt(cfg.Retention.Milliseconds(), 10)})}
	if cfg.KafkaPort != 0 {
		opts = append(opts, kfake.Ports(cfg.KafkaPort))
	}
	var err error
	if s.kafka, err = kfake.NewCluster(opts...); err != nil {
		return fail(fmt.Errorf("devstack: kafka: %w", err))
	}
	s.Kafka = s.kafka.ListenAddrs()[0]
	s.retention, s.retained = make(chan struct{}), make(chan struct{})
	go s.applyRetention(s.retention, s.retained)

	if s.sess, err = chdb.Open(ctx, filepath.Join(cfg.Dir, "clickhouse"), cfg.Log, engineMergeTree...); err != nil {
		return fail(fmt.Errorf("devstack: clickhouse engine: %w", err))
	}
	h, err := chserver.NewHandler(ctx, s.sess, cfg.Log)
	if err != nil {
		return fail(fmt.Errorf("devstack: clickhouse http: %w", err))
	}
	s.chh = h
	if s.ch, err = chserver.Listen(ctx, fmt.Sprintf("127.0.0.1:%d", cfg.ClickHousePort), h, cfg.Log); err != nil {
		return fail(err)
	}
	s.ClickHouseHTTP = s.ch.URL

	if cfg.Daou != nil {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", cfg.DaouPort))
		if err != nil {
			return fail(fmt.Errorf("devstack: daou: %w", err))
		}
		s.daou = &http.Server{Handler: cfg.Daou, ReadHeaderTimeout: 10 * time.Second}
		go s.daou.Serve(ln)
		s.Daou = "http://" + ln.Addr().String()
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	if err := os.WriteFile(filepath.Join(cfg.Dir, "stack.json"), append(b, '\n'), 0o644); err != nil {
		return fail(fmt.Errorf("devstack: %w", err))
	}
	return s, nil
}

// engineMergeTree are the embedded engine's MergeTree defaults. Horizontal
// merges only: a vertical merge (ClickHouse's default for parts of 131,072
// rows or more with 11 or more non-key columns, as punches has) merges the
// sort key first and then gathers every other column in a pass of its own,
// which bounds a merge's memory to about one column of its parts. On this
// engine's tables that cost about 30% more CPU per merged row: in the 10 M
// backfill, alternated, the merges used 12.9–13.4 CPU-seconds horizontally
// against 18.2–21.6 vertically, for the same rows merged and the same peak
// memory of the engines process (docs/benchmarks.md, session 9). A
// horizontal merge holds one block of every column of each part it merges;
// the embedded engine serves one site's tables, whose merges join tens of
// parts. A production ClickHouse server keeps its own defaults.
var engineMergeTree = []chdb.Setting{{Name: "enable_vertical_merge_algorithm", Value: "0"}}

// DefaultRetention is Kafka's default log retention: records are kept seven
// days, long after the stages have consumed them.
const DefaultRetention = 7 * 24 * time.Hour

// RetentionEvery is how often the broker drops records older than the
// retention.
const RetentionEvery = time.Hour

// applyRetention drops expired records now and every RetentionEvery until
// stop is closed, then closes done. kfake checks retention by itself only
// for topics with a retention setting of their own, and the seeded topics
// have none.
func (s *Stack) applyRetention(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(RetentionEvery)
	defer t.Stop()
	for {
		s.kafka.ApplyRetention()
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// SetClickHouseDown makes the ClickHouse front answer 503 to everything
// (fault tests) until called with false.
func (s *Stack) SetClickHouseDown(down bool) { s.chh.SetDown(down) }

// SetKafkaDown makes the broker drop every request (as if it were stopped)
// until called with false. kfake cannot stop and keep its data, so this is
// how a broker outage is simulated.
func (s *Stack) SetKafkaDown(down bool) {
	if !down {
		s.kafkaDown.Store(false)
		return
	}
	if s.kafkaDown.Swap(true) {
		return
	}
	s.kafka.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		if s.kafkaDown.Load() {
			s.kafka.KeepControl()
			return nil, errors.New("devstack: broker down (fault switch)"), true
		}
		return nil, nil, false
	})
}

// Close stops everything and removes stack.json. The ClickHouse data stays.
func (s *Stack) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if s.daou != nil {
		errs = append(errs, s.daou.Shutdown(ctx))
	}
	if s.ch != nil {
		errs = append(errs, s.ch.Close(ctx))
	}
	if s.sess != nil {
		errs = append(errs, s.sess.Close())
	}
	if s.retention != nil {
		close(s.retention)
		<-s.retained // kfake's admin calls block forever on a closed cluster
	}
	if s.kafka != nil {
		s.kafka.Close()
	}
	if s.dir != "" {
		if err := os.Remove(filepath.Join(s.dir, "stack.json")); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
