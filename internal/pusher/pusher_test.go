package pusher

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/history"
	"github.com/attendance-pipeline/attnd/internal/match"
	"github.com/attendance-pipeline/attnd/internal/obs"
	"github.com/attendance-pipeline/attnd/internal/push"
)

// memStore is the history as the pusher sees it, in memory.
type memStore struct {
	mu      sync.Mutex
	matched map[string]attendance.Punch // event_id -> punch with the Daou number
	daily   []history.Daily
	log     []attendance.PushResult
	fail    error
}

func newMemStore() *memStore { return &memStore{matched: map[string]attendance.Punch{}} }

func (s *memStore) InsertMatched(_ context.Context, _ string, rows []history.Matched) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	for _, r := range rows {
		p := r.Punch
		p.EmployeeNo = r.EmployeeNo
		s.matched[p.EventID] = p
	}
	return nil
}

func (s *memStore) MatchedPunches(_ context.Context, emps []string, from, to time.Time) ([]attendance.Punch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := map[string]bool{}
	for _, e := range emps {
		want[e] = true
	}
	var out []attendance.Punch
	for _, p := range s.matched {
		if want[p.EmployeeNo] && !p.OccurredAt.Before(from) && !p.OccurredAt.After(to) {
			out = append(out, p)
		}
	}
	return out, nil
}

func (s *memStore) InsertDaily(_ context.Context, ds []history.Daily) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.daily = append(s.daily, ds...)
	return nil
}

func (s *memStore) InsertPushLog(_ context.Context, rs []attendance.PushResult) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, rs...)
	return nil
}

// memDaou keeps the last pushed record per key, like Daou's middle DB.
type memDaou struct {
	days  map[string]attendance.DailyRecord
	calls int
	err   error
}

func (d *memDaou) Pushed(_ context.Context, emp, day string) (bool, error) {
	_, ok := d.days[emp+"/"+day]
	return ok, nil
}

func (d *memDaou) Push(_ context.Context, recs []attendance.DailyRecord) ([]attendance.PushResult, error) {
	if d.err != nil {
		return nil, d.err
	}
	var out []attendance.PushResult
	for _, r := range recs {
		d.calls++
		d.days[r.EmployeeNo+"/"+r.WorkingDay] = r
		out = append(out, attendance.PushResult{EmployeeNo: r.EmployeeNo, WorkingDay: r.WorkingDay, Outcome: attendance.PushAccepted})
	}
	return out, nil
}

var kst = time.FixedZone("KST", 9*3600)

func punch(site, emp string, at time.Time, mode attendance.Mode) attendance.Punch {
	p := attendance.Punch{Site: site, Vendor: "secom", EmployeeNo: emp, OccurredAt: at, Mode: mode, AuthOK: true}
	p.EventID = attendance.EventID(site, "secom", at, emp, "", mode, string(mode), "", true)
	return p
}

func messages(t *testing.T, ps []attendance.Punch) []kafka.Message {
	var out []kafka.Message
	for i, p := range ps {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, kafka.Message{Topic: "attendance.punches.v1", Partition: i % 3, Offset: int64(i), Value: b})
	}
	return out
}

func newTestPusher(t *testing.T, store Store, sender Sender) *Pusher {
	t.Helper()
	cfg, err := match.ParseConfig([]byte("sites:\n  - site: factory\n    rules: [{kind: strip_prefix, prefix: \"1600\"}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	dir := []attendance.Employee{{EmployeeNo: "00120001", LoginID: "kim"}, {EmployeeNo: "00120002", LoginID: "lee"}}
	m, err := match.NewMatcher(cfg, dir, time.Date(2026, 1, 1, 0, 0, 0, 0, kst), obs.Discard())
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{}, m, store, sender, nil, obs.Discard(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A night shift split over two batches, in reverse order, re-delivered:
// the day in Daou is the same as if everything came at once, in order.
func TestProcessRecomputesFromHistory(t *testing.T) {
	store, daou := newMemStore(), &memDaou{days: map[string]attendance.DailyRecord{}}
	p := newTestPusher(t, store, daou)
	in := punch("factory", "160000120001", time.Date(2026, 3, 2, 21, 58, 0, 0, kst), attendance.ModeIn)
	out := punch("factory", "160000120001", time.Date(2026, 3, 3, 6, 5, 0, 0, kst), attendance.ModeOut)
	day := punch("factory", "160000120002", time.Date(2026, 3, 3, 8, 50, 0, 0, kst), attendance.ModeIn)
	ctx := context.Background()
	for _, batch := range [][]attendance.Punch{{out}, {in, day}, {out, in}} {
		if err := p.Process(ctx, messages(t, batch)); err != nil {
			t.Fatal(err)
		}
	}
	got := daou.days["00120001/2026-03-02"]
	if got.ClockIn == nil || got.ClockOut == nil || !got.ClockIn.Equal(in.OccurredAt) || !got.ClockOut.Equal(out.OccurredAt) {
		t.Fatalf("night shift in Daou = %+v, want in %v out %v", got, in.OccurredAt, out.OccurredAt)
	}
	// The clock-out came first and made a day of its own (missing_in); once
	// its clock-in arrived that day must be cleared in Daou, not left behind.
	if d, ok := daou.days["00120001/2026-03-03"]; !ok || d.ClockIn != nil || d.ClockOut != nil {
		t.Errorf("phantom day 2026-03-03 = %+v (present %v), want a cleared record", d, ok)
	}
	if d := daou.days["00120002/2026-03-03"]; d.ClockIn == nil || d.ClockOut != nil {
		t.Errorf("day with only an arrival = %+v", d)
	}
	if len(store.log) == 0 || len(store.daily) == 0 {
		t.Error("push outcomes and daily rows must be recorded in the history")
	}
}

// Unmatched and ambiguous punches are never pushed and never block the batch.
func TestProcessUnmatched(t *testing.T) {
	store, daou := newMemStore(), &memDaou{days: map[string]attendance.DailyRecord{}}
	p := newTestPusher(t, store, daou)
	ps := []attendance.Punch{punch("factory", "160099999999", time.Date(2026, 3, 2, 9, 0, 0, 0, kst), attendance.ModeIn)}
	if err := p.Process(context.Background(), messages(t, ps)); err != nil {
		t.Fatal(err)
	}
	if daou.calls != 0 || len(store.matched) != 0 {
		t.Errorf("unmatched punch pushed (%d calls) or recorded as matched (%d)", daou.calls, len(store.matched))
	}
	if v := obs.Value(p.m.Unmatched.WithLabelValues("factory", attendance.OutcomeUnmatched)); v != 1 {
		t.Errorf("attnd_unmatched_people = %v, want 1", v)
	}
}

// A failing history or a blocked Daou fails the batch (so its offsets are not
// committed); a 903 marks the pusher blocked.
func TestProcessFailuresKeepTheBatch(t *testing.T) {
	store, daou := newMemStore(), &memDaou{days: map[string]attendance.DailyRecord{}}
	p := newTestPusher(t, store, daou)
	msgs := messages(t, []attendance.Punch{punch("factory", "160000120001", time.Date(2026, 3, 2, 9, 0, 0, 0, kst), attendance.ModeIn)})
	store.fail = errors.New("clickhouse down")
	if err := p.Process(context.Background(), msgs); err == nil {
		t.Fatal("history failure must fail the batch")
	}
	store.fail = nil
	daou.err = push.ErrBlocked
	if err := p.Process(context.Background(), msgs); !errors.Is(err, push.ErrBlocked) || !p.Blocked() {
		t.Fatalf("903: err %v blocked %v", err, p.Blocked())
	}
}

// Property: any split of the punches into batches, in any order, with
// re-deliveries, leaves Daou with the days of the whole set in one batch.
func TestProcessOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var all []attendance.Punch
	for d := range 5 {
		base := time.Date(2026, 3, 2+d, 0, 0, 0, 0, kst)
		for i, emp := range []string{"160000120001", "160000120002"} {
			start := base.Add(time.Duration(7+i*13) * time.Hour).Add(time.Duration(rng.IntN(60)) * time.Minute)
			all = append(all, punch("factory", emp, start, attendance.ModeIn), punch("factory", emp, start.Add(time.Duration(8+rng.IntN(3))*time.Hour), attendance.ModeOut))
		}
	}
	want := &memDaou{days: map[string]attendance.DailyRecord{}}
	if err := newTestPusher(t, newMemStore(), want).Process(context.Background(), messages(t, all)); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		got := &memDaou{days: map[string]attendance.DailyRecord{}}
		p := newTestPusher(t, newMemStore(), got)
		shuffled := append([]attendance.Punch(nil), all...)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		shuffled = append(shuffled, shuffled[:rng.IntN(len(shuffled))]...) // re-deliveries
		for len(shuffled) > 0 {
			n := 1 + rng.IntN(len(shuffled))
			if err := p.Process(context.Background(), messages(t, shuffled[:n])); err != nil {
				t.Fatal(err)
			}
			shuffled = shuffled[n:]
		}
		for k, g := range got.days {
			if _, ok := want.days[k]; !ok && (g.ClockIn != nil || g.ClockOut != nil) {
				t.Fatalf("phantom day %s = %+v left in Daou", k, g)
			}
		}
		for k, w := range want.days {
			g := got.days[k]
			if !sameDay(g, w) {
				t.Fatalf("%s = %+v, want %+v", k, g, w)
			}
		}
	}
}

func sameDay(a, b attendance.DailyRecord) bool {
	eq := func(x, y *time.Time) bool { return (x == nil) == (y == nil) && (x == nil || x.Equal(*y)) }
	return eq(a.ClockIn, b.ClockIn) && eq(a.ClockOut, b.ClockOut)
}

func TestBatchToken(t *testing.T) {
	a := []kafka.Message{{Topic: "t", Partition: 1, Offset: 5}, {Topic: "t", Partition: 0, Offset: 7}, {Topic: "t", Partition: 1, Offset: 6}}
	b := []kafka.Message{a[2], a[1], a[0]}
	if batchToken(a) != batchToken(b) {
		t.Error("the token must not depend on message order")
	}
	if batchToken(a) == batchToken(a[:2]) {
		t.Error("different offset ranges must give different tokens")
	}
}
