// Package push sends daily attendance records to the Daou Office OpenAPI
// (POST /public/v2/attnd/record) with a token-caching client, a durable
// ledger and a pusher that sends only what changed.
//
// Delivery guarantee: every changed record is sent at least once until Daou
// accepts or refuses it, and an accepted record is never sent again with
// identical content, even across a crash at any point (kill -9 included).
//
// How: before a send the pusher fsyncs an in-flight marker (key, content
// hash, record) to the bbolt ledger; on acceptance it stores the hash as
// accepted and drops the marker in one transaction. A marker left by a crash
// or by an answerless send (timeout, dropped connection, HTTP 504) is resolved
// before that key is sent again:
//   - the attnd-v2 read API shows the same times: accepted, nothing is sent;
//   - the read API does not show it and the send is older than VerifyAfter
//     (default 6 h, the sync lag of Daou's middle DB): not stored, sent again;
//   - younger than VerifyAfter: left pending (reported failed, retried by a
//     later run), because unsynced data is invisible to the read API;
//   - the read API (or the v3 user list it needs for loginIds) is
//     unavailable: presumed accepted and recorded so, logged at WARN.
//
// ASSUMPTIONS (daou-openapi.md does not say): an answer with an error code
// (901–926) or HTTP 500/502/503 means the record was not stored, so the
// marker is dropped and the record may be retried; the payload schema in
// FieldConfig; the success envelope.
package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

// Metrics are the push metrics (attnd_push_*); nil-safe.
type Metrics struct {
	Records   *prometheus.CounterVec // by outcome
	Calls     *prometheus.CounterVec // record sends by result (accepted, rejected, rate_limited, server, transport, blocked, config)
	Resolved  *prometheus.CounterVec // in-flight markers resolved, by how
	Rate      prometheus.Gauge
	Blocked   prometheus.Gauge
	SendTimes prometheus.Histogram
}

// NewMetrics registers the push metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Records:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "attnd_push_records_total", Help: "Daily records handled by the pusher, by outcome (accepted, rejected, failed, skipped)."}, []string{"outcome"}),
		Calls:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "attnd_push_sends_total", Help: "attnd/record sends, by result."}, []string{"result"}),
		Resolved: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "attnd_push_inflight_resolved_total", Help: "In-flight sends resolved before a resend, by how (read_back, absent, presumed, pending)."}, []string{"how"}),
		Rate:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "attnd_push_rate_per_second", Help: "Current client-side call rate limit."}),
		Blocked:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "attnd_push_blocked", Help: "1 after Daou answered 903 (integration restricted)."}),
		SendTimes: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "attnd_push_send_seconds", Help: "Duration of one attnd/record send.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}),
	}
	reg.MustRegister(m.Records, m.Calls, m.Resolved, m.Rate, m.Blocked, m.SendTimes)
	return m
}

func (m *Metrics) record(outcome string) {
	if m != nil {
		m.Records.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) call(result string) {
	if m != nil {
		m.Calls.WithLabelValues(result).Inc()
	}
}

func (m *Metrics) resolved(how string) {
	if m != nil {
		m.Resolved.WithLabelValues(how).Inc()
	}
}

// Pusher pushes changed records through a Client, keeping the Ledger.
type Pusher struct {
	c     *Client
	l     *Ledger
	log   *slog.Logger
	m     *Metrics
	sleep func(ctx context.Context, d time.Duration) error
	// afterSend, when set (tests), runs after each send returns and before
	// the ledger learns the outcome: the crash window that matters.
	afterSend func(attendance.PushResult)
}

// NewPusher returns a pusher; log and m may be nil.
func NewPusher(c *Client, l *Ledger, log *slog.Logger, m *Metrics) *Pusher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m != nil {
		m.Rate.Set(c.lim.current())
	}
	return &Pusher{c: c, l: l, log: log, m: m, sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Push sends the records that changed since their last accepted push and
// returns one PushResult per input record, in input order (skipped for
// unchanged ones). It stops with an error wrapping ErrBlocked on 903 and
// ErrConfig on 901/902/904; the records not reached are reported failed
// with "not sent". 925/926 give rejected results; 905, 5xx and transport
// errors are retried with jittered backoff and a slower rate, up to
// MaxAttempts sends, then reported failed. A cancelled ctx returns ctx.Err().
func (p *Pusher) Push(ctx context.Context, recs []attendance.DailyRecord) ([]attendance.PushResult, error) {
	out := make([]attendance.PushResult, 0, len(recs))
	for i, rec := range recs {
		res, err := p.pushOne(ctx, rec)
		out = append(out, res)
		p.m.record(res.Outcome)
		if err != nil {
			for _, r := range recs[i+1:] {
				out = append(out, attendance.PushResult{Site: r.Site, EmployeeNo: r.EmployeeNo, WorkingDay: r.WorkingDay,
					Outcome: attendance.PushFailed, Message: "not sent: run stopped", At: p.c.now().UTC()})
				p.m.record(attendance.PushFailed)
			}
			return out, err
		}
	}
	return out, nil
}

type resolution int

const (
	resAccepted resolution = iota + 1
	resAbsent
	resPending
)

// resolve decides what happened to an in-flight send (see the package doc).
func (p *Pusher) resolve(ctx context.Context, in Inflight) (resolution, string, error) {
	found, same, err := p.c.ReadBack(ctx, in.Record)
	if err != nil {
		if ctx.Err() != nil {
			return 0, "", ctx.Err()
		}
		if errors.Is(err, ErrBlocked) || errors.Is(err, ErrConfig) {
			return 0, "", err
		}
		p.log.Warn("push: in-flight send presumed accepted, read-back unavailable",
			"employee_no", in.Record.EmployeeNo, "working_day", in.Record.WorkingDay, "since", in.Since, "error", err.Error())
		p.m.resolved("presumed")
		return resAccepted, "presumed accepted: read-back unavailable", nil
	}
	if found && same {
		p.m.resolved("read_back")
		return resAccepted, "accepted (confirmed by read-back)", nil
	}
	if age := p.c.now().Sub(in.Since); age < *p.c.cfg.VerifyAfter {
		p.m.resolved("pending")
		return resPending, fmt.Sprintf("outcome of the send at %s unknown; not visible yet, verify again after %s", in.Since.Format(time.RFC3339), in.Since.Add(*p.c.cfg.VerifyAfter).Format(time.RFC3339)), nil
	}
	p.m.resolved("absent")
	return resAbsent, "", nil
}

func (p *Pusher) backoff(n int) time.Duration {
	cfg := p.c.cfg
	d := cfg.BackoffBase << min(n-1, 20)
	if d > cfg.BackoffMax || d <= 0 {
		d = cfg.BackoffMax
	}
	return time.Duration(rand.Int64N(int64(d)) + 1) // full jitter
}

func (p *Pusher) pushOne(ctx context.Context, rec attendance.DailyRecord) (attendance.PushResult, error) {
	base := attendance.PushResult{Site: rec.Site, EmployeeNo: rec.EmployeeNo, WorkingDay: rec.WorkingDay}
	_, hash, err := p.c.Payload(rec)
	if err != nil {
		base.Outcome, base.Code, base.Message, base.At = attendance.PushRejected, "local", err.Error(), p.c.now().UTC()
		return base, nil
	}
	base.ContentHash = hash
	emp, day := rec.EmployeeNo, rec.WorkingDay
	var last attendance.PushResult
	lastMsg := ""
	attempts := 0
	for {
		if err := ctx.Err(); err != nil {
			return p.failed(base, attempts, "cancelled"), err
		}
		in, has, err := p.l.InflightFor(emp, day)
		if err != nil {
			return p.failed(base, attempts, err.Error()), err
		}
		if has {
			r, msg, err := p.resolve(ctx, in)
			if err != nil {
				return p.failed(base, attempts, err.Error()), err
			}
			switch r {
			case resAccepted:
				if err := p.l.MarkAccepted(emp, day, in.Hash, p.c.now()); err != nil {
					return p.failed(base, attempts, err.Error()), err
				}
				if in.Hash == hash {
					res := base
					if attempts > 0 {
						res = last
					}
					res.Outcome, res.Message, res.Attempts, res.At = attendance.PushAccepted, msg, attempts, p.c.now().UTC()
					return res, nil
				}
			case resAbsent:
				if err := p.l.ClearInflight(emp, day); err != nil {
					return p.failed(base, attempts, err.Error()), err
				}
			case resPending:
				return p.failed(base, attempts, msg), nil
			}
		}
		acc, ok, err := p.l.Accepted(emp, day)
		if err != nil {
			return p.failed(base, attempts, err.Error()), err
		}
		if ok && acc == hash {
			base.Outcome, base.Message, base.At = attendance.PushSkipped, "unchanged since the last accepted push", p.c.now().UTC()
			return base, nil
		}
		if attempts >= p.c.cfg.MaxAttempts {
			return p.failed(base, attempts, "retry budget spent: "+lastMsg), nil
		}
		if attempts > 0 {
			if err := p.sleep(ctx, p.backoff(attempts)); err != nil {
				return p.failed(base, attempts, "cancelled"), err
			}
		}
		attempts++
		if err := p.l.MarkInflight(rec, hash, p.c.now()); err != nil {
			return p.failed(base, attempts-1, err.Error()), err
		}
		start := time.Now()
		res, err := p.c.PostRecord(ctx, rec)
		if p.m != nil {
			p.m.SendTimes.Observe(time.Since(start).Seconds())
		}
		res.Attempts = attempts
		if p.afterSend != nil {
			p.afterSend(res)
		}
		last = res
		var ce *CallError
		var ns *notSentError
		notSent := errors.As(err, &ns)
		switch {
		case err == nil && res.Outcome == attendance.PushAccepted:
			p.m.call("accepted")
			if err := p.l.MarkAccepted(emp, day, hash, p.c.now()); err != nil {
				// The server has it; the marker stays and is resolved next time.
				return p.failed(base, attempts, err.Error()), err
			}
			p.setRate(p.c.lim.speedUp())
			return res, nil
		case err == nil: // rejected (925/926 or local)
			p.m.call("rejected")
			if err := p.l.ClearInflight(emp, day); err != nil {
				return res, err
			}
			p.log.Warn("push: record rejected", "employee_no", emp, "working_day", day, "code", res.Code, "message", res.Message)
			return res, nil
		case ctx.Err() != nil:
			return res, ctx.Err()
		case errors.As(err, &ce):
			lastMsg = ce.Error()
			switch {
			case ce.Kind == KindBlocked:
				p.m.call("blocked")
				if p.m != nil {
					p.m.Blocked.Set(1)
				}
				_ = p.l.ClearInflight(emp, day)
				p.log.Error("push: Daou restricted the integration (903); stopping", "employee_no", emp, "working_day", day)
				return res, fmt.Errorf("push %s/%s: %w", emp, day, err)
			case ce.Kind == KindConfig:
				p.m.call("config")
				_ = p.l.ClearInflight(emp, day)
				return res, fmt.Errorf("push %s/%s: %w", emp, day, err)
			case ce.Kind == KindRateLimit:
				p.m.call("rate_limited")
				if err := p.l.ClearInflight(emp, day); err != nil {
					return res, err
				}
				p.setRate(p.c.lim.slowDown())
			case ce.Kind == KindServer && definitelyNotStored(ce):
				p.m.call("server")
				if err := p.l.ClearInflight(emp, day); err != nil {
					return res, err
				}
				p.setRate(p.c.lim.slowDown())
			case notSent:
				p.m.call("not_sent")
				if err := p.l.ClearInflight(emp, day); err != nil {
					return res, err
				}
			default: // transport, 504, unreadable 2xx: the marker stays and is resolved first
				p.m.call("transport")
				p.setRate(p.c.lim.slowDown())
			}
			p.log.Info("push: send failed, will retry", "employee_no", emp, "working_day", day, "attempt", attempts, "error", ce.Error())
		case notSent:
			_ = p.l.ClearInflight(emp, day)
			return res, err
		default:
			return res, err
		}
	}
}

// definitelyNotStored: an explicit 500/502/503 answer. ASSUMPTION: Daou did
// not store the record (504 and unreadable 2xx answers stay ambiguous).
func definitelyNotStored(ce *CallError) bool {
	switch ce.Status {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable:
		return true
	}
	return false
}

func (p *Pusher) setRate(r float64) {
	if p.m != nil {
		p.m.Rate.Set(r)
	}
}

func (p *Pusher) failed(base attendance.PushResult, attempts int, msg string) attendance.PushResult {
	base.Outcome, base.Message, base.Attempts, base.At = attendance.PushFailed, msg, attempts, p.c.now().UTC()
	return base
}

// Dry-run outcomes (Plan).
const (
	PlanSend   = "would_send"   // changed since the last accepted push
	PlanVerify = "would_verify" // an earlier send's outcome is unknown; read back first
)

// Plan is Push without any network call or ledger write: per record, the
// outcome a push would start with (skipped, would_send, would_verify, or
// rejected for a record that cannot be serialised), with hash and payload.
func (p *Pusher) Plan(recs []attendance.DailyRecord) ([]attendance.PushResult, error) {
	out := make([]attendance.PushResult, 0, len(recs))
	for _, rec := range recs {
		r := attendance.PushResult{Site: rec.Site, EmployeeNo: rec.EmployeeNo, WorkingDay: rec.WorkingDay, At: p.c.now().UTC()}
		pl, hash, err := p.c.Payload(rec)
		if err != nil {
			r.Outcome, r.Code, r.Message = attendance.PushRejected, "local", err.Error()
			out = append(out, r)
			continue
		}
		b, _ := json.Marshal(pl)
		r.ContentHash, r.Payload = hash, string(b)
		in, has, err := p.l.InflightFor(rec.EmployeeNo, rec.WorkingDay)
		if err != nil {
			return out, err
		}
		acc, ok, err := p.l.Accepted(rec.EmployeeNo, rec.WorkingDay)
		if err != nil {
			return out, err
		}
		switch {
		case has:
			r.Outcome, r.Message = PlanVerify, "in flight since "+in.Since.Format(time.RFC3339)
		case ok && acc == hash:
			r.Outcome = attendance.PushSkipped
		default:
			r.Outcome = PlanSend
		}
		out = append(out, r)
	}
	return out, nil
}
