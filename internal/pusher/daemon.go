package pusher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/consume"
	"github.com/attendance-pipeline/attnd/internal/history"
	"github.com/attendance-pipeline/attnd/internal/match"
	"github.com/attendance-pipeline/attnd/internal/obs"
	"github.com/attendance-pipeline/attnd/internal/publish"
	"github.com/attendance-pipeline/attnd/internal/push"
)

// Daemon is a running `pusher run`: the pusher, the history writer and the
// directory refresher, until Close or a fatal error.
type Daemon struct {
	cancel  context.CancelFunc
	done    chan struct{}
	err     error
	health  *obs.Health
	closers []func() error
	Pusher  *Pusher
}

// Start builds every component from cfg and starts them. hc is the HTTP
// client for Daou (nil: a default one with cfg.Daou.Timeout).
func Start(ctx context.Context, cfg Config, hc *http.Client, log *slog.Logger, reg *prometheus.Registry) (*Daemon, error) {
	d := &Daemon{done: make(chan struct{}), health: obs.NewHealth()}
	fail := func(err error) (*Daemon, error) {
		d.closeAll()
		return nil, err
	}
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return fail(fmt.Errorf("state_dir: %w", err))
	}
	if hc == nil {
		hc = &http.Client{Timeout: max(cfg.Daou.Timeout, 30*time.Second)}
	}

	// History: ClickHouse, migrations, store.
	conn, err := cfg.ClickHouse.Open(ctx)
	if err != nil {
		return fail(err)
	}
	d.closers = append(d.closers, conn.Close)
	db := cfg.ClickHouse.Database
	if db == "" {
		db = "attendance"
	}
	if cfg.Migrate {
		var err error
		if cfg.ClickHouse.Cluster != "" {
			_, err = history.MigrateCluster(ctx, conn, db, cfg.ClickHouse.Cluster)
		} else {
			_, err = history.Migrate(ctx, conn, db)
		}
		if err != nil {
			return fail(fmt.Errorf("migrate: %w", err))
		}
	}
	store, err := history.NewStore(conn, db)
	if err != nil {
		return fail(err)
	}

	// Daou: token cache, push ledger, pusher.
	client, err := push.NewClient(cfg.Daou, cfg.StateDir, hc, log)
	if err != nil {
		return fail(err)
	}
	ledger, err := push.OpenLedger(filepath.Join(cfg.StateDir, "push-ledger.db"))
	if err != nil {
		return fail(err)
	}
	d.closers = append(d.closers, ledger.Close)
	sender := ledgerSender{push.NewPusher(client, ledger, log, push.NewMetrics(reg)), ledger}

	// Directory and matcher: start with what the providers (or the last
	// good copy on disk) have.
	cardKeys, err := cfg.Match.CardKeys(os.LookupEnv)
	if err != nil {
		return fail(err)
	}
	providers, err := cfg.Match.Directory.Build(cardKeys, match.DaouConfig{
		BaseURL: cfg.Daou.BaseURL, ClientID: cfg.Daou.ClientID, ClientSecret: cfg.Daou.ClientSecret, Log: log,
	}, client, hc)
	if err != nil {
		return fail(err)
	}
	dir := match.NewDirectory(cfg.StateDir, providers, cfg.Match.Directory.Refresh, log)
	emps, err := dir.Load(ctx)
	if err != nil {
		return fail(fmt.Errorf("directory: %w", err))
	}
	matcher, err := match.NewMatcher(cfg.Match, emps, time.Now(), log)
	if err != nil {
		return fail(err)
	}

	// Kafka: the unmatched topic and its writer, the consumer dialer.
	transport, err := cfg.Kafka.Transport()
	if err != nil {
		return fail(err)
	}
	dialer, err := cfg.Kafka.Dialer()
	if err != nil {
		return fail(err)
	}
	if err := ensureTopic(ctx, cfg, transport); err != nil {
		return fail(err)
	}
	unmatchedW := &kafka.Writer{
		Addr: kafka.TCP(cfg.Kafka.Brokers...), Topic: cfg.UnmatchedTopic, Transport: transport,
		Balancer: &publish.KeyHash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond,
		Compression: kafka.Lz4, ErrorLogger: kafka.LoggerFunc(obs.Printf(log, slog.LevelWarn, "kafka")),
	}
	d.closers = append(d.closers, unmatchedW.Close)

	p, err := New(cfg, matcher, store, sender, unmatchedW, log, NewMetrics(reg))
	if err != nil {
		return fail(err)
	}
	d.Pusher = p

	d.health.Add("kafka", func(ctx context.Context) error {
		var nd net.Dialer
		for _, b := range cfg.Kafka.Brokers {
			c, err := nd.DialContext(ctx, "tcp", b)
			if err == nil {
				c.Close()
				return nil
			}
		}
		return errors.New("no broker reachable")
	})
	d.health.Add("clickhouse", conn.Ping)
	d.health.Add("daou", func(context.Context) error {
		if p.Blocked() {
			return errors.New("Daou answered 903 (service restricted): pushing paused")
		}
		return nil
	})

	rctx, cancel := context.WithCancel(ctx)
	d.cancel = cancel
	errs := make(chan error, 3)
	n := 0
	run := func(name string, f func() error) {
		n++
		go func() {
			err := f()
			if err != nil && rctx.Err() == nil {
				err = fmt.Errorf("%s: %w", name, err)
				cancel()
			} else {
				err = nil
			}
			errs <- err
		}()
	}
	run("directory", func() error {
		return dir.Run(rctx, func(emps []attendance.Employee) {
			m, err := match.NewMatcher(cfg.Match, emps, time.Now(), log)
			if err != nil {
				log.Error("directory refresh not applied", obs.KeyError, err.Error())
				return
			}
			p.SetMatcher(m)
			log.Info("directory refreshed", "accounts", m.Len(), "stale", dir.Status().Stale())
		})
	})
	if cfg.History.On() {
		w, err := history.NewWriter(store, history.WriterConfig{
			Brokers: cfg.Kafka.Brokers, GroupID: cfg.History.GroupID, Dialer: dialer, Transport: transport, StallTimeout: cfg.Kafka.StallTimeout,
			Topics:    cfg.HistoryTopics(),
			BatchRows: cfg.History.BatchRows, BatchBytes: cfg.History.BatchBytes, BatchInterval: cfg.History.BatchInterval,
		}, log)
		if err != nil {
			cancel()
			return fail(err)
		}
		run("history writer", supervise(rctx, log, "history writer", func() error { return w.Run(rctx) }))
	}
	groups := map[string][]string{cfg.GroupID: {cfg.Kafka.Topics.Punches}}
	if cfg.History.On() {
		groups[cfg.History.GroupID] = cfg.HistoryTopics().List()
	}
	go watchLag(rctx, &kafka.Client{Addr: kafka.TCP(cfg.Kafka.Brokers...), Transport: transport, Timeout: 10 * time.Second}, groups, p.m.Lag, log)
	run("pusher", supervise(rctx, log, "pusher", func() error { return p.Run(rctx, dialer, transport) }))
	go func() {
		var first error
		for range n {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		d.err = first
		close(d.done)
	}()
	return d, nil
}

// ledgerSender is the push.Pusher plus the push ledger's knowledge of which
// days Daou holds (PushedLookup), so vanished days get cleared.
type ledgerSender struct {
	*push.Pusher
	ledger *push.Ledger
}

func (s ledgerSender) Pushed(_ context.Context, emp, day string) (bool, error) {
	_, ok, err := s.ledger.Accepted(emp, day)
	return ok, err
}

// supervise restarts f after a failure (ClickHouse or Kafka unreachable,
// a commit refused by a rebalance) with backoff, so an outage of a
// dependency never ends the daemon; uncommitted work is re-delivered. Only a
// Daou configuration error (901/902/904) or the end of ctx stops it.
func supervise(ctx context.Context, log *slog.Logger, name string, f func() error) func() error {
	return func() error {
		backoff := time.Second
		for {
			start := time.Now()
			err := f()
			if ctx.Err() != nil {
				return nil
			}
			if err == nil || errors.Is(err, push.ErrConfig) {
				return err
			}
			if time.Since(start) > time.Minute {
				backoff = time.Second
			}
			log.Warn("component failed, restarting", obs.KeyStage, name, "in", backoff.String(), obs.KeyError, err.Error())
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 30*time.Second)
		}
	}
}

func ensureTopic(ctx context.Context, cfg Config, transport *kafka.Transport) error {
	if cfg.Kafka.CreateTopics != nil && !*cfg.Kafka.CreateTopics {
		return nil
	}
	c := &kafka.Client{Addr: kafka.TCP(cfg.Kafka.Brokers...), Transport: transport, Timeout: 30 * time.Second}
	var topics []kafka.TopicConfig
	for _, t := range []string{cfg.Kafka.Topics.Punches, cfg.UnmatchedTopic} {
		topics = append(topics, kafka.TopicConfig{Topic: t, NumPartitions: cfg.Kafka.Partitions, ReplicationFactor: cfg.Kafka.ReplicationFactor})
	}
	res, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: topics})
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	for t, err := range res.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	return nil
}

// Health is the readiness of the daemon's dependencies.
func (d *Daemon) Health() *obs.Health { return d.health }

// Wait blocks until every component stopped and returns the first fatal error.
func (d *Daemon) Wait() error {
	<-d.done
	return d.err
}

// Close stops the components, waits for them and releases resources.
func (d *Daemon) Close() error {
	if d.cancel != nil {
		d.cancel()
		<-d.done
	}
	return d.closeAll()
}

func (d *Daemon) closeAll() error {
	var errs []error
	for i := len(d.closers) - 1; i >= 0; i-- {
		errs = append(errs, d.closers[i]())
	}
	d.closers = nil
	return errors.Join(errs...)
}

// watchLag sets attnd_consumer_lag for each group and topic every 10 s from
// the committed and end offsets on the broker (kafka-go's group reader
// reports no lag of its own).
func watchLag(ctx context.Context, client *kafka.Client, groups map[string][]string, g *prometheus.GaugeVec, log *slog.Logger) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		for group, topics := range groups {
			lag, err := consume.TopicLag(ctx, client, group, topics)
			if err != nil {
				log.DebugContext(ctx, "lag query failed", "group", group, obs.KeyError, err.Error())
				continue
			}
			for topic, n := range lag {
				g.WithLabelValues(group, topic).Set(float64(n))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
