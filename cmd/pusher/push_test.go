package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/daousim"
)

const pushInput = `{"employee_no":"E1","working_day":"2024-01-05","clock_in":"2024-01-05T08:51:02+09:00","clock_out":"2024-01-05T18:02:00+09:00","flags":[]}

{"employee_no":"E2","working_day":"2024-01-05","clock_in":"2024-01-05T22:00:00+09:00","clock_out":"2024-01-06T06:30:00+09:00","flags":[]}
{"employee_no":"E3","working_day":"2024-01-05","clock_in":"2024-01-05T09:00:00+09:00","clock_out":null,"flags":["missing_out"]}
`

type pushFixture struct {
	sim              *daousim.Server
	url, dir, config string
	input            string
}

func newPushFixture(t *testing.T, daouYAML string) *pushFixture {
	t.Helper()
	sim := daousim.New(daousim.Options{ClientID: "cid", ClientSecret: "the-secret", SyncOnWrite: true, Employees: []daousim.Employee{
		{EmployeeNumber: "E1", LoginID: "a"}, {EmployeeNumber: "E2", LoginID: "b"}, {EmployeeNumber: "E3", LoginID: "c"}}})
	ts := httptest.NewServer(sim)
	t.Cleanup(func() { ts.Close(); sim.Close() })
	dir := t.TempDir()
	f := &pushFixture{sim: sim, url: ts.URL, dir: dir, config: filepath.Join(dir, "pusher.yaml"), input: filepath.Join(dir, "daily.ndjson")}
	cfg := "state_dir: " + filepath.Join(dir, "state") + "\nkafka:\n  brokers: [x]\ndaou:\n  client_id: cid\n  client_secret_env: TEST_DAOU_SECRET\n  rate_per_second: -1\n  timeout: 5s\n  verify_after: 0s\n  fields:\n    location: KST\n" + daouYAML
	if err := os.WriteFile(f.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.input, []byte(pushInput), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *pushFixture) run(t *testing.T, secret string, extra ...string) (int, []attendance.PushResult, string) {
	t.Helper()
	env := map[string]string{"DAOU_BASE_URL": f.url, "TEST_DAOU_SECRET": secret}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var out, errb bytes.Buffer
	code := runPush(context.Background(), append([]string{"--config", f.config, "--input", f.input}, extra...), nil, &out, &errb, lookup)
	var res []attendance.PushResult
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if line == "" {
			continue
		}
		var r attendance.PushResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("stdout line %q: %v", line, err)
		}
		res = append(res, r)
	}
	if strings.Contains(out.String()+errb.String(), secret) && secret != "" {
		t.Fatal("the secret reached the output")
	}
	return code, res, errb.String()
}

func TestPushCommand(t *testing.T) {
	f := newPushFixture(t, "")
	code, res, stderr := f.run(t, "the-secret", "--dry-run")
	if code != 0 || len(res) != 3 || res[0].Outcome != "would_send" || f.sim.Calls() != 0 {
		t.Fatalf("dry run: code %d %+v calls %d\n%s", code, res, f.sim.Calls(), stderr)
	}
	code, res, stderr = f.run(t, "the-secret")
	if code != 0 || len(res) != 3 || res[2].Outcome != attendance.PushAccepted || !strings.Contains(stderr, "accepted=3") {
		t.Fatalf("push: code %d %+v\n%s", code, res, stderr)
	}
	rec := f.sim.Records()[daousim.Key{EmployeeNumber: "E2", WorkingDay: "2024-01-05"}]
	if rec.ClockIn != "2024-01-05 22:00:00" || rec.ClockOut != "2024-01-06 06:30:00" {
		t.Fatalf("night shift stored as %+v", rec)
	}
	calls := f.sim.Calls()
	code, res, stderr = f.run(t, "the-secret")
	if code != 0 || res[0].Outcome != attendance.PushSkipped || f.sim.Calls() != calls || !strings.Contains(stderr, "skipped=3") {
		t.Fatalf("second push: code %d %+v calls %d->%d\n%s", code, res, calls, f.sim.Calls(), stderr)
	}
	code, res, _ = f.run(t, "the-secret", "--dry-run")
	if code != 0 || res[1].Outcome != attendance.PushSkipped {
		t.Fatalf("dry run after push: %+v", res)
	}
}

func TestPushCommandStops(t *testing.T) {
	f := newPushFixture(t, "")
	code, _, stderr := f.run(t, "wrong-secret")
	if code != pushExitConfigEr || !strings.Contains(stderr, "902") || !strings.Contains(stderr, "STOPPED") {
		t.Fatalf("bad secret: code %d\n%s", code, stderr)
	}
	f.sim.SetBlocked(true)
	code, res, stderr := f.run(t, "the-secret")
	if code != pushExitBlocked || !strings.Contains(stderr, "903") || len(res) != 3 || res[2].Message != "not sent: run stopped" {
		t.Fatalf("blocked: code %d %+v\n%s", code, res, stderr)
	}
	f2 := newPushFixture(t, "  rate_limit: 5\n")
	if code, _, stderr := f2.run(t, "the-secret"); code != pushExitUsage || !strings.Contains(stderr, "rate_limit") {
		t.Fatalf("misspelt key: code %d\n%s", code, stderr)
	}
	if code, _, _ := f2.run(t, "the-secret", "--state"); code != pushExitUsage {
		t.Fatal("usage")
	}
}

// The shipped compose config must load as pusher push reads it.
func TestPushReadsComposeConfig(t *testing.T) {
	cfg, state, err := loadPushConfig("../../deploy/compose/config/pusher.yaml", func(k string) (string, bool) {
		v, ok := map[string]string{"DAOU_CLIENT_ID": "id", "DAOU_CLIENT_SECRET": "s"}[k]
		return v, ok
	})
	if err != nil || state == "" || cfg.ClientID != "id" || cfg.Timeout == 0 {
		t.Fatalf("compose config: %+v state %q: %v", cfg, state, err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}
