package push

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/daousim"
	"github.com/attendance-pipeline/attnd/internal/match"
)

var kst = time.FixedZone("KST", 9*3600)

func employees(n int) []daousim.Employee {
	out := make([]daousim.Employee, n)
	for i := range out {
		out[i] = daousim.Employee{EmployeeNumber: fmt.Sprintf("E%04d", i), LoginID: fmt.Sprintf("user%04d", i), Name: fmt.Sprintf("Name %d", i)}
	}
	return out
}

// days returns n records over n/5 employees × 5 days; shift moves clock-out.
func days(n int, shift time.Duration) []attendance.DailyRecord {
	var out []attendance.DailyRecord
	for i := 0; i < n; i++ {
		emp, d := i/5, i%5
		day := time.Date(2024, 3, 4+d, 0, 0, 0, 0, kst)
		in := day.Add(8*time.Hour + time.Duration(emp%50)*time.Minute)
		out = append(out, attendance.DailyRecord{EmployeeNo: fmt.Sprintf("E%04d", emp), WorkingDay: day.Format("2006-01-02"), ClockIn: &in, Flags: []string{}})
		if d != 4 { // the last day of each person misses the clock-out
			o := in.Add(9*time.Hour + shift)
			out[len(out)-1].ClockOut = &o
		}
	}
	return out
}

type env struct {
	sim *daousim.Server
	ts  *httptest.Server
	cfg Config
	dir string
}

func newEnv(t *testing.T, o daousim.Options, wrap func(http.Handler) http.Handler) *env {
	t.Helper()
	o.ClientID, o.ClientSecret = "client-1", "s3cret-value"
	if o.Employees == nil {
		o.Employees = employees(100)
	}
	sim := daousim.New(o)
	var h http.Handler = sim
	if wrap != nil {
		h = wrap(sim)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(func() { sim.Close(); ts.Close() })
	zero := time.Duration(0)
	cfg := Config{BaseURL: ts.URL, ClientID: "client-1", ClientSecret: "s3cret-value", RatePerSecond: -1, Timeout: 2 * time.Second,
		BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond, VerifyAfter: &zero, Fields: FieldConfig{Location: "KST"}}
	return &env{sim: sim, ts: ts, cfg: cfg, dir: t.TempDir()}
}

func (e *env) pusher(t *testing.T, cfg Config) (*Pusher, *Client, *Ledger) {
	t.Helper()
	c, err := NewClient(cfg, e.dir, e.ts.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := OpenLedger(filepath.Join(e.dir, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return NewPusher(c, l, nil, nil), c, l
}

func outcomes(res []attendance.PushResult) map[string]int {
	m := map[string]int{}
	for _, r := range res {
		m[r.Outcome]++
	}
	return m
}

// checkMiddleDB asserts the simulator holds exactly recs with the right times.
func checkMiddleDB(t *testing.T, sim *daousim.Server, recs []attendance.DailyRecord) {
	t.Helper()
	got := sim.Records()
	for _, r := range recs {
		g, ok := got[daousim.Key{EmployeeNumber: r.EmployeeNo, WorkingDay: r.WorkingDay}]
		if !ok {
			t.Fatalf("%s/%s missing from the middle DB", r.EmployeeNo, r.WorkingDay)
		}
		wantOut := ""
		if r.ClockOut != nil {
			wantOut = r.ClockOut.In(kst).Format("2006-01-02 15:04:05")
		}
		if g.ClockIn != r.ClockIn.In(kst).Format("2006-01-02 15:04:05") || g.ClockOut != wantOut {
			t.Fatalf("%s/%s: middle DB has %q-%q, want %v-%v", r.EmployeeNo, r.WorkingDay, g.ClockIn, g.ClockOut, r.ClockIn, r.ClockOut)
		}
	}
}

func TestPushOnlyChanges(t *testing.T) {
	e := newEnv(t, daousim.Options{ExpiresInAsString: true}, nil)
	p, _, _ := e.pusher(t, e.cfg)
	recs := days(50, 0)
	res, err := p.Push(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	if o := outcomes(res); o[attendance.PushAccepted] != 50 {
		t.Fatalf("outcomes %v", o)
	}
	checkMiddleDB(t, e.sim, recs)
	if strings.Contains(res[0].Payload, "s3cret") || strings.Contains(res[0].Payload, "clientId") {
		t.Fatalf("payload carries credentials: %s", res[0].Payload)
	}
	calls := e.sim.Calls()
	res, err = p.Push(context.Background(), recs)
	if err != nil || outcomes(res)[attendance.PushSkipped] != 50 {
		t.Fatalf("second run: %v %v", outcomes(res), err)
	}
	if e.sim.Calls() != calls {
		t.Fatalf("second run called Daou: %d -> %d", calls, e.sim.Calls())
	}
	// A new client (restart) reuses the persisted token and ledger: still nothing sent.
	p2, _, _ := func() (*Pusher, *Client, *Ledger) {
		p.l.Close()
		return e.pusher(t, e.cfg)
	}()
	changed := days(50, 0)
	o := changed[7].ClockOut.Add(time.Minute)
	changed[7].ClockOut = &o
	res, err = p2.Push(context.Background(), changed)
	if err != nil {
		t.Fatal(err)
	}
	if oc := outcomes(res); oc[attendance.PushAccepted] != 1 || oc[attendance.PushSkipped] != 49 || res[7].Outcome != attendance.PushAccepted {
		t.Fatalf("after one change: %v", oc)
	}
	if e.sim.Calls() != calls+1 || e.sim.CallsTo(daousim.PathToken) != 1 {
		t.Fatalf("want exactly one more call and one token ever: calls %d->%d tokens %d", calls, e.sim.Calls(), e.sim.CallsTo(daousim.PathToken))
	}
	if e.sim.IdenticalResends() != 0 {
		t.Fatal("identical resend")
	}
	checkMiddleDB(t, e.sim, changed)
}

func TestErrorCodes(t *testing.T) {
	for _, variant := range []daousim.Options{{}, {ErrorsAsHTTP200: true, CodeAsNumber: true}} {
		for _, tc := range []struct {
			code    string
			wantErr error
			outcome string
		}{
			{"901", ErrConfig, attendance.PushFailed},
			{"902", ErrConfig, attendance.PushFailed},
			{"904", ErrConfig, attendance.PushFailed},
			{"903", ErrBlocked, attendance.PushFailed},
			{"925", nil, attendance.PushRejected},
			{"926", nil, attendance.PushRejected},
			{"905", nil, attendance.PushAccepted}, // one 905, then accepted
			{"401", nil, attendance.PushAccepted}, // one 401, token renewed, accepted
		} {
			t.Run(fmt.Sprintf("http200=%v/%s", variant.ErrorsAsHTTP200, tc.code), func(t *testing.T) {
				e := newEnv(t, variant, nil)
				p, _, l := e.pusher(t, e.cfg)
				e.sim.SetFault(daousim.Fault{Kind: daousim.FaultCode, Code: tc.code, Count: 1})
				recs := days(3, 0)
				res, err := p.Push(context.Background(), recs)
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) {
						t.Fatalf("err = %v, want %v", err, tc.wantErr)
					}
					if strings.Contains(err.Error(), "s3cret") {
						t.Fatal("secret in error")
					}
					if len(res) != 3 || res[1].Message != "not sent: run stopped" {
						t.Fatalf("results %+v", res)
					}
				} else if err != nil {
					t.Fatal(err)
				}
				if res[0].Outcome != tc.outcome || (tc.outcome != attendance.PushAccepted && res[0].Code != tc.code) {
					t.Fatalf("result %+v", res[0])
				}
				if tc.code == "401" && e.sim.CallsTo(daousim.PathToken) != 2 {
					t.Fatalf("401 must renew the token once, tokens %d", e.sim.CallsTo(daousim.PathToken))
				}
				if pend, _ := l.Pending(); len(pend) != 0 {
					t.Fatalf("in-flight markers left: %+v", pend)
				}
			})
		}
	}
}

func TestRealRejectionsAndTokenErrors(t *testing.T) {
	e := newEnv(t, daousim.Options{Employees: employees(2)}, nil)
	p, _, _ := e.pusher(t, e.cfg)
	recs := days(15, 0) // E0000, E0001 known; E0002 unknown -> 926
	res, err := p.Push(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	if o := outcomes(res); o[attendance.PushAccepted] != 10 || o[attendance.PushRejected] != 5 || res[12].Code != "926" {
		t.Fatalf("outcomes %v %+v", o, res[12])
	}
	// 925 from a format the simulator does not accept.
	e2 := newEnv(t, daousim.Options{Fields: daousim.Fields{WorkingDayFormat: "20060102"}}, nil)
	p2, _, _ := e2.pusher(t, e2.cfg)
	res, err = p2.Push(context.Background(), days(1, 0))
	if err != nil || res[0].Outcome != attendance.PushRejected || res[0].Code != "925" {
		t.Fatalf("want 925: %+v %v", res, err)
	}
	// Wrong secret at the token API: a configuration error, no record sent.
	bad := e.cfg
	bad.ClientSecret = "wrong-secret"
	e3 := newEnv(t, daousim.Options{}, nil)
	bad.BaseURL = e3.ts.URL
	p3, _, _ := e3.pusher(t, bad)
	_, err = p3.Push(context.Background(), days(2, 0))
	if !errors.Is(err, ErrConfig) || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("want ErrConfig without the secret, got %v", err)
	}
	if e3.sim.CallsTo(daousim.PathRecord) != 0 {
		t.Fatal("records sent without a token")
	}
}

func TestTokenExpiryMidRun(t *testing.T) {
	e := newEnv(t, daousim.Options{}, nil)
	p, c, _ := e.pusher(t, e.cfg)
	recs := days(20, 0)
	if _, err := p.Push(context.Background(), recs[:10]); err != nil {
		t.Fatal(err)
	}
	e.sim.ExpireTokens()
	res, err := p.Push(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	if o := outcomes(res); o[attendance.PushAccepted] != 10 || o[attendance.PushSkipped] != 10 {
		t.Fatalf("outcomes %v", o)
	}
	if c.TokensFetched() != 2 || e.sim.IdenticalResends() != 0 {
		t.Fatalf("tokens %d identical %d", c.TokensFetched(), e.sim.IdenticalResends())
	}
	checkMiddleDB(t, e.sim, recs)
}

func TestTokenRenewedBeforeExpiry(t *testing.T) {
	e := newEnv(t, daousim.Options{TokenTTL: 100 * time.Second}, nil)
	_, c, _ := e.pusher(t, e.cfg)
	now := time.Now()
	c.now = func() time.Time { return now }
	tok, err := c.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(89 * time.Second)
	if t2, _ := c.Token(context.Background()); t2 != tok {
		t.Fatal("token renewed too early")
	}
	now = now.Add(2 * time.Second) // 91 s: within the 10 % margin
	if t2, _ := c.Token(context.Background()); t2 == tok {
		t.Fatal("token not renewed before expires_in")
	}
}

func TestRateLimitRecovery(t *testing.T) {
	e := newEnv(t, daousim.Options{RatePerSecond: 50, Burst: 1}, nil)
	cfg := e.cfg
	cfg.RatePerSecond = 1000
	cfg.MaxAttempts = 20
	cfg.BackoffBase, cfg.BackoffMax = 5*time.Millisecond, 40*time.Millisecond
	p, c, _ := e.pusher(t, cfg)
	reg := prometheus.NewRegistry()
	p.m = NewMetrics(reg)
	recs := days(40, 0)
	res, err := p.Push(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	if o := outcomes(res); o[attendance.PushAccepted] != 40 {
		t.Fatalf("outcomes %v", o)
	}
	var mm dto.Metric
	if err := p.m.Calls.WithLabelValues("rate_limited").Write(&mm); err != nil || mm.GetCounter().GetValue() == 0 {
		t.Fatal("the simulator never answered 905: the test proves nothing")
	}
	if c.lim.current() >= 1000 {
		t.Fatalf("rate not slowed: %v", c.lim.current())
	}
	if e.sim.IdenticalResends() != 0 {
		t.Fatal("identical resend")
	}
	checkMiddleDB(t, e.sim, recs)
}

func TestServerErrorRecoveryAndBudget(t *testing.T) {
	e := newEnv(t, daousim.Options{}, nil)
	p, _, l := e.pusher(t, e.cfg)
	e.sim.SetFault(daousim.Fault{Kind: daousim.Fault5xx, Count: 3})
	recs := days(5, 0)
	res, err := p.Push(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Outcome != attendance.PushAccepted || res[0].Attempts != 4 || outcomes(res)[attendance.PushAccepted] != 5 {
		t.Fatalf("results %+v", res)
	}
	checkMiddleDB(t, e.sim, recs)
	e.sim.SetFault(daousim.Fault{Kind: daousim.Fault5xx, Status: 502})
	more := days(10, time.Hour)[5:]
	res, err = p.Push(context.Background(), more)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Outcome != attendance.PushFailed || res[0].Attempts != e.cfg.WithDefaults().MaxAttempts || !strings.Contains(res[0].Message, "retry budget") {
		t.Fatalf("want failed after the budget: %+v", res[0])
	}
	if pend, _ := l.Pending(); len(pend) != 0 {
		t.Fatalf("a 502 must leave no in-flight marker: %+v", pend)
	}
}

func TestAmbiguousSendsAreVerified(t *testing.T) {
	// Processed, answer lost: the read-back finds it; no resend.
	e := newEnv(t, daousim.Options{SyncOnWrite: true}, nil)
	p, _, _ := e.pusher(t, e.cfg)
	e.sim.SetFault(daousim.Fault{Kind: daousim.FaultDropAfter, Count: 1})
	recs := days(5, 0)
	res, err := p.Push(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Outcome != attendance.PushAccepted || !strings.Contains(res[0].Message, "read-back") {
		t.Fatalf("want accepted by read-back: %+v", res[0])
	}
	if e.sim.IdenticalResends() != 0 || e.sim.CallsTo(daousim.PathRecord) != 5 {
		t.Fatalf("identical %d record calls %d", e.sim.IdenticalResends(), e.sim.CallsTo(daousim.PathRecord))
	}
	// Dropped before processing: not visible, so it is sent again.
	e.sim.SetFault(daousim.Fault{Kind: daousim.FaultDrop, Count: 1})
	more := days(10, 0)[5:]
	res, err = p.Push(context.Background(), more)
	if err != nil || res[0].Outcome != attendance.PushAccepted || res[0].Attempts != 2 {
		t.Fatalf("want resent after a drop: %+v %v", res[0], err)
	}
	checkMiddleDB(t, e.sim, append(recs, more...))
	if e.sim.IdenticalResends() != 0 {
		t.Fatal("identical resend")
	}
}

func TestAmbiguousWithinSyncLagStaysPending(t *testing.T) {
	e := newEnv(t, daousim.Options{}, nil) // no sync: the read API sees nothing yet
	cfg := e.cfg
	six := 6 * time.Hour
	cfg.VerifyAfter = &six
	p, _, l := e.pusher(t, cfg)
	e.sim.SetFault(daousim.Fault{Kind: daousim.FaultDropAfter, Count: 1})
	recs := days(1, 0)
	res, _ := p.Push(context.Background(), recs)
	if res[0].Outcome != attendance.PushFailed || !strings.Contains(res[0].Message, "unknown") {
		t.Fatalf("want pending: %+v", res[0])
	}
	res, _ = p.Push(context.Background(), recs) // a second run must not resend either
	if res[0].Outcome != attendance.PushFailed || e.sim.CallsTo(daousim.PathRecord) != 1 {
		t.Fatalf("resent within the sync lag: %+v calls %d", res[0], e.sim.CallsTo(daousim.PathRecord))
	}
	e.sim.Sync()
	res, _ = p.Push(context.Background(), recs)
	if res[0].Outcome != attendance.PushAccepted || e.sim.CallsTo(daousim.PathRecord) != 1 || e.sim.IdenticalResends() != 0 {
		t.Fatalf("after sync: %+v", res[0])
	}
	if pend, _ := l.Pending(); len(pend) != 0 {
		t.Fatal("marker left")
	}
}

func TestReadBackUnavailablePresumesAccepted(t *testing.T) {
	e := newEnv(t, daousim.Options{SyncOnWrite: true}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == daousim.PathAttndV2 {
				http.Error(w, "down", http.StatusBadGateway)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	p, _, _ := e.pusher(t, e.cfg)
	e.sim.SetFault(daousim.Fault{Kind: daousim.FaultDropAfter, Count: 1})
	res, err := p.Push(context.Background(), days(1, 0))
	if err != nil || res[0].Outcome != attendance.PushAccepted || !strings.Contains(res[0].Message, "presumed") {
		t.Fatalf("want presumed accepted: %+v %v", res[0], err)
	}
	if e.sim.CallsTo(daousim.PathRecord) != 1 || e.sim.IdenticalResends() != 0 {
		t.Fatal("resent")
	}
}

func TestBlockedStopsAndSimBlocksIdenticalSends(t *testing.T) {
	e := newEnv(t, daousim.Options{BlockAfter: 1}, nil)
	p, _, _ := e.pusher(t, e.cfg)
	recs := days(3, 0)
	if _, err := p.Push(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	// A second pusher with an empty ledger would resend identical data: the simulator blocks it.
	e2dir := t.TempDir()
	c, _ := NewClient(e.cfg, e2dir, e.ts.Client(), nil)
	l, _ := OpenLedger(filepath.Join(e2dir, "l.db"))
	defer l.Close()
	res, err := NewPusher(c, l, nil, nil).Push(context.Background(), recs)
	if !errors.Is(err, ErrBlocked) || !e.sim.Blocked() || res[2].Outcome != attendance.PushFailed {
		t.Fatalf("want ErrBlocked: %v %+v", err, res)
	}
}

func TestConfigEnvAndValidate(t *testing.T) {
	env := map[string]string{"DAOU_BASE_URL": "http://daou.test", "DAOU_CLIENT_ID": "id-env", "MY_SECRET": "from-env"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	c := Config{ClientID: "id-file", ClientSecretEnv: "MY_SECRET"}.WithEnv(lookup)
	if c.BaseURL != "http://daou.test" || c.ClientID != "id-env" || c.ClientSecret != "from-env" {
		t.Fatalf("env: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	env["DAOU_CLIENT_SECRET"] = "wins"
	if c := (Config{ClientSecret: "file"}).WithEnv(lookup); c.ClientSecret != "wins" {
		t.Fatal("DAOU_CLIENT_SECRET must win")
	}
	err := Config{BaseURL: "ftp://x", ClientSecret: "topsecret", Fields: FieldConfig{ClockIn: "workingDay"}}.Validate()
	if err == nil || !strings.Contains(err.Error(), "client_id") || !strings.Contains(err.Error(), "base_url") || !strings.Contains(err.Error(), "fields") || strings.Contains(err.Error(), "topsecret") {
		t.Fatalf("validate: %v", err)
	}
}

func TestTimeoutIsVerifiedThenResent(t *testing.T) {
	e := newEnv(t, daousim.Options{SyncOnWrite: true}, nil)
	cfg := e.cfg
	cfg.Timeout = 150 * time.Millisecond
	p, _, l := e.pusher(t, cfg)
	e.sim.SetFault(daousim.Fault{Kind: daousim.FaultHang, Count: 1})
	recs := days(2, 0)
	res, err := p.Push(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Outcome != attendance.PushAccepted || res[0].Attempts != 2 || outcomes(res)[attendance.PushAccepted] != 2 {
		t.Fatalf("want accepted on the second send after a timeout: %+v", res)
	}
	if e.sim.IdenticalResends() != 0 {
		t.Fatal("identical resend")
	}
	if pend, _ := l.Pending(); len(pend) != 0 {
		t.Fatalf("markers left: %+v", pend)
	}
	checkMiddleDB(t, e.sim, recs)
}

// The client is the matcher's token source (with the 401 invalidation hook).
var _ interface {
	match.TokenSource
	Invalidate(string)
} = (*Client)(nil)

func TestCode401InHTTP200RenewsToken(t *testing.T) {
	first := true
	e := newEnv(t, daousim.Options{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == daousim.PathRecord && first {
				first = false
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"code":401,"message":"Unauthorized","messageDetail":"token expired"}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	p, c, _ := e.pusher(t, e.cfg)
	res, err := p.Push(context.Background(), days(1, 0))
	if err != nil || res[0].Outcome != attendance.PushAccepted || c.TokensFetched() != 2 {
		t.Fatalf("want renewal and acceptance: %+v %v tokens %d", res, err, c.TokensFetched())
	}
}
