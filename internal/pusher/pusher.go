// Package pusher is the daemon behind `pusher run`: it consumes punch events,
// resolves each person to a groupware account, records the matched punches in
// the history, recomputes the working days they touch from the history and
// pushes the days that changed to Daou Office.
//
// Guarantee: at-least-once consumption with idempotent effects. Kafka offsets
// of a batch are committed only after its matched punches are in ClickHouse,
// its unmatched punches are acknowledged on the unmatched topic, and the push
// outcome of every affected day is in push_log. A crash anywhere re-delivers
// the batch: the matched-punch insert collapses on event_id, the unmatched
// topic gets duplicates with the same event_id (collapsed in ClickHouse), and
// the push ledger (internal/push) never resends a day whose identical content
// was already accepted. Because days are recomputed from the history, not from
// the batch alone, any number of pushers can share the partitions.
package pusher

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/consume"
	"github.com/attendance-pipeline/attnd/internal/derive"
	"github.com/attendance-pipeline/attnd/internal/history"
	"github.com/attendance-pipeline/attnd/internal/match"
	"github.com/attendance-pipeline/attnd/internal/obs"
	"github.com/attendance-pipeline/attnd/internal/publish"
	"github.com/attendance-pipeline/attnd/internal/push"
)

// Store is what the pusher needs of the history (history.Store in
// production).
type Store interface {
	InsertMatched(ctx context.Context, token string, rows []history.Matched) error
	MatchedPunches(ctx context.Context, employeeNos []string, from, to time.Time) ([]attendance.Punch, error)
	InsertDaily(ctx context.Context, ds []history.Daily) error
	InsertPushLog(ctx context.Context, rs []attendance.PushResult) error
}

// Sender pushes daily records (push.Pusher in production).
type Sender interface {
	Push(ctx context.Context, recs []attendance.DailyRecord) ([]attendance.PushResult, error)
}

// PushedLookup is implemented by a Sender that knows which days it has
// pushed (the push ledger). With it, a day that existed and no longer derives
// from the history (a morning clock-out that joined the previous evening's
// shift once that clock-in arrived) is pushed again as a cleared record
// instead of staying in Daou as a phantom day.
type PushedLookup interface {
	Pushed(ctx context.Context, employeeNo, workingDay string) (bool, error)
}

// FlagCleared marks a record sent to replace a day that no longer exists.
// ASSUMPTION: Daou accepts a record with null clock times for a key it holds
// (last write wins); daou-openapi.md does not document a delete.
const FlagCleared = "cleared"

// Metrics are the pusher's metrics (names and labels as deploy/README.md's
// metric contract lists them).
type Metrics struct {
	Punches   *prometheus.CounterVec // attnd_match_punches_total{site,outcome}
	Unmatched *prometheus.GaugeVec   // attnd_unmatched_people{site,outcome}
	Days      *prometheus.CounterVec // attnd_push_days_total{outcome}: pushed, unchanged, rejected, failed
	Batch     prometheus.Histogram   // attnd_pusher_batch_seconds: one batch end to end
	Lag       *prometheus.GaugeVec   // attnd_consumer_lag{group,topic}
	Retries   *prometheus.CounterVec // attnd_pusher_retries_total{stage}
}

// NewMetrics creates the pusher metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Punches:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "attnd_match_punches_total", Help: "Punches by match outcome: matched, unmatched, ambiguous."}, []string{"site", "outcome"}),
		Unmatched: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "attnd_unmatched_people", Help: "Distinct (site, vendor employee number or card) unmatched or ambiguous since start."}, []string{"site", "outcome"}),
		Days:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "attnd_push_days_total", Help: "Daily records decided: pushed, unchanged (push ledger), rejected, failed."}, []string{"outcome"}),
		Batch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "attnd_pusher_batch_seconds", Help: "Time to process one batch: match, history, derive, push, record.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		Lag:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "attnd_consumer_lag", Help: "Messages behind the end of the topic, by consumer group."}, []string{"group", "topic"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "attnd_pusher_retries_total", Help: "Batch retries after a failure, by stage (batch, blocked)."}, []string{"stage"}),
	}
	reg.MustRegister(m.Punches, m.Unmatched, m.Days, m.Batch, m.Lag, m.Retries)
	return m
}

// dayOutcome names a push outcome as attnd_push_days_total does.
var dayOutcome = map[string]string{
	attendance.PushAccepted: "pushed", attendance.PushSkipped: "unchanged",
	attendance.PushRejected: "rejected", attendance.PushFailed: "failed",
}

// Pusher processes batches of punch messages. Build it with New; Run drives it
// from Kafka, Process handles one batch (exported for tests and replays).
type Pusher struct {
	cfg      Config
	rules    map[string]derive.Rules
	matcher  atomic.Pointer[match.Matcher]
	store    Store
	sender   Sender
	unmatchW *kafka.Writer // nil: unmatched punches are only counted and logged
	log      *slog.Logger
	m        *Metrics
	seen     map[string]string // unmatched key -> outcome, for the gauge
	blocked  atomic.Bool
}

// New builds a Pusher. unmatched may be nil.
func New(cfg Config, m *match.Matcher, store Store, sender Sender, unmatched *kafka.Writer, log *slog.Logger, metrics *Metrics) (*Pusher, error) {
	rules, err := cfg.Rules()
	if err != nil {
		return nil, err
	}
	if metrics == nil {
		metrics = NewMetrics(prometheus.NewRegistry())
	}
	p := &Pusher{cfg: cfg, rules: rules, store: store, sender: sender, unmatchW: unmatched, log: log, m: metrics, seen: map[string]string{}}
	p.matcher.Store(m)
	return p, nil
}

// SetMatcher swaps the directory snapshot (after a refresh).
func (p *Pusher) SetMatcher(m *match.Matcher) { p.matcher.Store(m) }

// Blocked reports whether Daou answered 903 and pushing is paused.
func (p *Pusher) Blocked() bool { return p.blocked.Load() }

// rulesFor returns the rules of a site, or the default.
func (p *Pusher) rulesFor(site string) derive.Rules {
	if r, ok := p.rules[site]; ok {
		return r
	}
	return p.rules[""]
}

// batchToken is the dedup token of the matched-punch insert of a batch: the
// same messages re-delivered after a crash produce the same token.
func batchToken(msgs []kafka.Message) string {
	type span struct {
		topic       string
		part        int
		first, last int64
	}
	spans := map[string]*span{}
	for _, m := range msgs {
		k := fmt.Sprintf("%s/%d", m.Topic, m.Partition)
		s := spans[k]
		if s == nil {
			s = &span{m.Topic, m.Partition, m.Offset, m.Offset}
			spans[k] = s
		}
		s.first, s.last = min(s.first, m.Offset), max(s.last, m.Offset)
	}
	keys := make([]string, 0, len(spans))
	for k, s := range spans {
		keys = append(keys, fmt.Sprintf("%s:%d-%d", k, s.first, s.last))
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
	}
	return "pusher/" + hex.EncodeToString(h.Sum(nil)[:16])
}

// Process handles one batch of punch messages: match, record, derive, push,
// record outcomes. It returns nil only when every effect of the batch is
// durable, so the caller may commit the offsets. Undecodable messages are
// logged and counted, never retried forever.
func (p *Pusher) Process(ctx context.Context, msgs []kafka.Message) error {
	start := time.Now()
	defer func() { p.m.Batch.Observe(time.Since(start).Seconds()) }()

	matcher := p.matcher.Load()
	var matched []history.Matched
	var unmatched []kafka.Message
	var dec publish.PunchDecoder
	for _, msg := range msgs {
		var pu attendance.Punch
		if err := dec.Decode(msg.Value, &pu); err != nil {
			p.log.ErrorContext(ctx, "undecodable punch message skipped", "topic", msg.Topic, "partition", msg.Partition, "offset", msg.Offset, obs.KeyError, err.Error())
			p.m.Punches.WithLabelValues("", "undecodable").Inc()
			continue
		}
		res := matcher.Match(pu)
		p.m.Punches.WithLabelValues(pu.Site, res.Outcome).Inc()
		if res.Outcome == attendance.OutcomeMatched {
			matched = append(matched, history.Matched{Punch: pu, EmployeeNo: res.Employee.EmployeeNo})
			continue
		}
		u := match.Unmatched(pu, res)
		key := u.Site + "\x00" + u.EmployeeNo + "\x00" + u.CardMasked
		if _, ok := p.seen[key]; !ok {
			p.seen[key] = u.Outcome
			p.m.Unmatched.WithLabelValues(u.Site, u.Outcome).Inc()
			p.log.WarnContext(ctx, "punch not matched", obs.KeyEventID, u.EventID, "site", u.Site, "vendor_employee_no", u.EmployeeNo, "outcome", u.Outcome, "reason", u.Reason)
		}
		val, _ := json.Marshal(u)
		unmatched = append(unmatched, kafka.Message{Key: []byte(u.Site + "/" + u.EmployeeNo), Value: val,
			Headers: []kafka.Header{{Key: "event_id", Value: []byte(u.EventID)}}})
	}

	if len(unmatched) > 0 && p.unmatchW != nil {
		if err := p.unmatchW.WriteMessages(ctx, unmatched...); err != nil {
			return fmt.Errorf("publish %d unmatched punches: %w", len(unmatched), err)
		}
	}
	if len(matched) == 0 {
		return nil
	}
	if err := p.store.InsertMatched(ctx, batchToken(msgs), matched); err != nil {
		return fmt.Errorf("record %d matched punches: %w", len(matched), err)
	}
	days, err := p.affectedDays(ctx, matched)
	if err != nil {
		return err
	}
	if len(days) == 0 {
		return nil
	}
	if p.blocked.Load() {
		return push.ErrBlocked
	}
	results, pushErr := p.sender.Push(ctx, days)
	if len(results) > 0 {
		if err := p.record(ctx, days, results); err != nil {
			return err
		}
	}
	if pushErr != nil {
		if errors.Is(pushErr, push.ErrBlocked) {
			p.blocked.Store(true) // attnd_push_blocked is set by internal/push
		}
		return fmt.Errorf("push %d days: %w", len(days), pushErr)
	}
	for _, r := range results {
		if r.Outcome == attendance.PushFailed {
			return fmt.Errorf("push %s %s: %s", r.EmployeeNo, r.WorkingDay, r.Message)
		}
	}
	return nil
}

// affectedDays recomputes, from the history, every working day the matched
// punches of this batch can change, per employee with the rules of the site
// most of the employee's punches come from.
func (p *Pusher) affectedDays(ctx context.Context, matched []history.Matched) ([]attendance.DailyRecord, error) {
	byEmp := map[string][]attendance.Punch{}
	for _, m := range matched {
		pu := m.Punch
		pu.EmployeeNo = m.EmployeeNo
		byEmp[m.EmployeeNo] = append(byEmp[m.EmployeeNo], pu)
	}
	// Group employees by their rules so each history query covers many people.
	type group struct {
		rules derive.Rules
		emps  []string
		batch []attendance.Punch
	}
	groups := map[string]*group{}
	for emp, ps := range byEmp {
		site := dominantSite(ps)
		g := groups[site]
		if g == nil {
			g = &group{rules: p.rulesFor(site)}
			groups[site] = g
		}
		g.emps = append(g.emps, emp)
		g.batch = append(g.batch, ps...)
	}
	var out []attendance.DailyRecord
	for site, g := range groups {
		sort.Strings(g.emps)
		from, to := derive.Window(g.rules, g.batch)
		hist, err := p.store.MatchedPunches(ctx, g.emps, from, to)
		if err != nil {
			return nil, fmt.Errorf("read history of %d employees (%s): %w", len(g.emps), site, err)
		}
		// The batch was inserted before the read; adding it again covers a
		// history that is not yet read-your-writes (Days dedups by event_id).
		all := append(hist, g.batch...)
		want := map[derive.Key]bool{}
		for _, k := range derive.Affected(g.rules, g.batch) {
			want[k] = true
		}
		for _, d := range derive.Days(g.rules, all) {
			k := derive.Key{EmployeeNo: d.EmployeeNo, WorkingDay: d.WorkingDay}
			if want[k] {
				out = append(out, d)
				delete(want, k)
			}
		}
		if lookup, ok := p.sender.(PushedLookup); ok {
			for k := range want { // affected keys that no longer make a day
				pushed, err := lookup.Pushed(ctx, k.EmployeeNo, k.WorkingDay)
				if err != nil {
					return nil, fmt.Errorf("push ledger lookup %s %s: %w", k.EmployeeNo, k.WorkingDay, err)
				}
				if pushed {
					out = append(out, attendance.DailyRecord{Site: site, EmployeeNo: k.EmployeeNo, WorkingDay: k.WorkingDay, Flags: []string{FlagCleared}})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].EmployeeNo != out[j].EmployeeNo {
			return out[i].EmployeeNo < out[j].EmployeeNo
		}
		return out[i].WorkingDay < out[j].WorkingDay
	})
	return out, nil
}

func dominantSite(ps []attendance.Punch) string {
	n := map[string]int{}
	best := ""
	for _, pu := range ps {
		n[pu.Site]++
		if n[pu.Site] > n[best] || (n[pu.Site] == n[best] && pu.Site < best) {
			best = pu.Site
		}
	}
	return best
}

// record writes push outcomes and the current daily rows to the history.
func (p *Pusher) record(ctx context.Context, days []attendance.DailyRecord, results []attendance.PushResult) error {
	if err := p.store.InsertPushLog(ctx, results); err != nil {
		return fmt.Errorf("record %d push outcomes: %w", len(results), err)
	}
	byKey := map[string]attendance.PushResult{}
	for _, r := range results {
		byKey[r.EmployeeNo+"/"+r.WorkingDay] = r
		p.m.Days.WithLabelValues(dayOutcome[r.Outcome]).Inc()
	}
	version := uint64(time.Now().UnixNano())
	var daily []history.Daily
	for _, d := range days {
		r, ok := byKey[d.EmployeeNo+"/"+d.WorkingDay]
		if !ok || (r.Outcome != attendance.PushAccepted && r.Outcome != attendance.PushSkipped) {
			continue
		}
		daily = append(daily, history.Daily{DailyRecord: d, Version: version, ContentHash: r.ContentHash})
	}
	if len(daily) == 0 {
		return nil
	}
	if err := p.store.InsertDaily(ctx, daily); err != nil {
		return fmt.Errorf("record %d daily rows: %w", len(daily), err)
	}
	return nil
}

// Run consumes the punches topic in the pusher's consumer group until ctx is
// cancelled. A failed batch is retried with backoff (ClickHouse, Kafka or
// Daou down) without committing; 903 pauses pushing for BlockedPause; a
// configuration error from Daou (901/902/904) stops Run with that error.
func (p *Pusher) Run(ctx context.Context, dialer *kafka.Dialer, transport *kafka.Transport) error {
	c := p.cfg
	r := consume.Start(ctx, consume.Config{
		Brokers: c.Kafka.Brokers, GroupID: c.GroupID, Topics: []string{c.Kafka.Topics.Punches},
		Dialer: dialer, Transport: transport, MaxWait: min(c.BatchInterval, 500*time.Millisecond),
		Buffer: c.BatchRows, StallTimeout: c.Kafka.StallTimeout, Log: p.log,
	})
	defer r.Close()
	msgs, fetchErr := r.Messages(), r.Errors()

	p.log.InfoContext(ctx, "pusher started", "group", c.GroupID, "topic", c.Kafka.Topics.Punches, "brokers", c.Kafka.Brokers)
	for {
		var batch []kafka.Message
		select {
		case m := <-msgs:
			batch = append(batch, m)
		case err := <-fetchErr:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("fetch punches: %w", err)
		}
		deadline := time.NewTimer(c.BatchInterval)
	fill:
		for len(batch) < c.BatchRows {
			select {
			case m := <-msgs:
				batch = append(batch, m)
			case <-deadline.C:
				break fill
			case <-ctx.Done():
				break fill
			}
		}
		deadline.Stop()
		if err := p.processWithRetry(ctx, batch); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := r.Commit(ctx, batch...); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("commit offsets: %w", err)
		}
	}
}

// processWithRetry retries a batch until it succeeds, ctx ends, or Daou
// reports a configuration error.
func (p *Pusher) processWithRetry(ctx context.Context, batch []kafka.Message) error {
	backoff := 500 * time.Millisecond
	for {
		err := p.Process(ctx, batch)
		if err == nil {
			if p.blocked.Swap(false) {
				p.log.InfoContext(ctx, "Daou accepts pushes again")
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, push.ErrConfig) {
			return fmt.Errorf("stopping: Daou reports a configuration error (fix the daou section): %w", err)
		}
		wait := backoff + rand.N(backoff/2)
		stage := "batch"
		if errors.Is(err, push.ErrBlocked) {
			wait, stage = p.cfg.BlockedPause, "blocked"
			p.log.ErrorContext(ctx, "Daou answered 903 (service restricted): pushing paused; ask Daou support to lift the restriction", "pause", wait.String(), obs.KeyError, err.Error())
		} else {
			p.log.WarnContext(ctx, "batch failed, retrying", "messages", len(batch), "in", wait.String(), obs.KeyError, err.Error())
			backoff = min(backoff*2, 30*time.Second)
		}
		p.m.Retries.WithLabelValues(stage).Inc()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		if errors.Is(err, push.ErrBlocked) {
			p.blocked.Store(false) // one careful retry after the pause
		}
	}
}
