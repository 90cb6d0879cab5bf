package daousim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func newSim(t *testing.T, o Options) (*Server, *httptest.Server) {
	t.Helper()
	o.ClientID, o.ClientSecret = "cid", "csecret"
	o.Employees = []Employee{{EmployeeNumber: "E1", LoginID: "kim", Name: "Kim"}, {EmployeeNumber: "E2", LoginID: "lee", Name: "Lee", ExpiredDate: "2020-01-01"}}
	s := New(o)
	ts := httptest.NewServer(s)
	t.Cleanup(func() { ts.Close(); s.Close() })
	return s, ts
}

func token(t *testing.T, ts *httptest.Server, id, secret string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+PathToken, strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.SetBasicAuth(id, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil && resp.StatusCode < 500 {
		t.Fatalf("decode %s: %v", b, err)
	}
	return resp.StatusCode, m
}

func post(t *testing.T, ts *httptest.Server, tok string, body map[string]any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, ts.URL+PathRecord, strings.NewReader(string(b)))
	req.Header.Set("Authorization", "Bearer "+tok)
	return do(t, req)
}

func TestTokenAndRecordLifecycle(t *testing.T) {
	s, ts := newSim(t, Options{ExpiresInAsString: true, BlockAfter: 2})
	st, m := token(t, ts, "cid", "bad")
	if st != http.StatusUnauthorized && m["code"] != CodeBadSecret {
		t.Fatalf("bad secret: %d %v", st, m)
	}
	if m["code"] != CodeBadSecret {
		t.Fatalf("bad secret code %v", m)
	}
	if _, m = token(t, ts, "nope", "csecret"); m["code"] != CodeBadClientID {
		t.Fatalf("bad id code %v", m)
	}
	st, m = token(t, ts, "cid", "csecret")
	if st != 200 || m["expires_in"] != "86400" || m["token_type"] != "bearer" {
		t.Fatalf("token: %d %v", st, m)
	}
	tok := m["access_token"].(string)
	rec := map[string]any{"clientId": "cid", "clientSecret": "csecret", "employeeNumber": "E1", "workingDay": "2024-01-05", "startWorkTime": "2024-01-05 08:51:02", "endWorkTime": nil}
	if st, m = post(t, ts, tok, rec); st != 200 || m["code"] != "200" {
		t.Fatalf("post: %d %v", st, m)
	}
	if len(s.Synced()) != 0 || len(s.Records()) != 1 {
		t.Fatalf("before sync: %v", s)
	}
	if s.Sync() != 1 {
		t.Fatal("sync")
	}
	rec["endWorkTime"] = "2024-01-05 18:00:00"
	post(t, ts, tok, rec) // changed: not identical
	if s.IdenticalResends() != 0 || s.Records()[Key{"E1", "2024-01-05"}].Writes != 2 {
		t.Fatalf("after change: %v %+v", s, s.Records())
	}
	post(t, ts, tok, rec) // identical 1
	if _, m = post(t, ts, tok, rec); m["code"] != CodeRestricted || !s.Blocked() {
		t.Fatalf("want 903 block: %v", m)
	}
	if s.IdenticalResends() != 2 {
		t.Fatalf("identical = %d", s.IdenticalResends())
	}
	rec["employeeNumber"] = "E9"
	if _, m = post(t, ts, tok, rec); m["code"] != CodeRestricted {
		t.Fatalf("blocked integration must answer 903: %v", m)
	}
	s.SetBlocked(false)
	if _, m = post(t, ts, tok, rec); m["code"] != CodeInvalidUserID {
		t.Fatalf("want 926: %v", m)
	}
	rec["employeeNumber"], rec["workingDay"] = "E1", "05/01/2024"
	if _, m = post(t, ts, tok, rec); m["code"] != CodeBadParameter {
		t.Fatalf("want 925: %v", m)
	}
	rec["workingDay"], rec["clientSecret"] = "2024-01-06", "x"
	if _, m = post(t, ts, tok, rec); m["code"] != CodeBadSecret {
		t.Fatalf("want 902: %v", m)
	}
	s.ExpireTokens()
	if st, _ = post(t, ts, tok, rec); st != http.StatusUnauthorized {
		t.Fatalf("want 401, got %d", st)
	}
	s.SetServiceExpired(true)
	if _, m = token(t, ts, "cid", "csecret"); m["code"] != CodeExpired {
		t.Fatalf("want 904: %v", m)
	}
}

func TestRateLimitAndReadAPI(t *testing.T) {
	now := time.Date(2024, 1, 6, 0, 0, 0, 0, time.UTC)
	s, ts := newSim(t, Options{RatePerSecond: 1, Burst: 2, SyncOnWrite: true, CodeAsNumber: true, Now: func() time.Time { return now }})
	_, m := token(t, ts, "cid", "csecret")
	tok := m["access_token"].(string)
	rec := map[string]any{"clientId": "cid", "clientSecret": "csecret", "employeeNumber": "E1", "workingDay": "2024-01-05", "startWorkTime": "2024-01-05 08:51:02", "endWorkTime": "2024-01-06 01:10:00"}
	post(t, ts, tok, rec)
	if st, m := post(t, ts, tok, rec); st != http.StatusTooManyRequests || m["code"] != float64(905) {
		t.Fatalf("want 905: %d %v", st, m)
	}
	now = now.Add(2 * time.Second)
	req, _ := http.NewRequest(http.MethodGet, ts.URL+PathAttndV2+"?startDate=2024-01-01&endDate=2024-01-31&page=0&pageSize=50", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	st, m := do(t, req)
	if st != 200 {
		t.Fatalf("read: %d %v", st, m)
	}
	data := m["data"].(map[string]any)
	els := data["elements"].([]any)
	if len(els) != 1 || s.CallsTo(PathRecord) != 2 {
		t.Fatalf("read elements %v", data)
	}
	el := els[0].(map[string]any)
	if el["loginId"] != "kim" || el["startWorkTime"] != "2024-01-05 08:51:02" || el["endWorkTime"] != "2024-01-06 01:10:00" {
		t.Fatalf("element %v", el)
	}
}

func TestFaults(t *testing.T) {
	s, ts := newSim(t, Options{})
	s.SetFault(Fault{Kind: Fault5xx, Count: 1, Path: "*"})
	if st, _ := token(t, ts, "cid", "csecret"); st != http.StatusServiceUnavailable {
		t.Fatalf("want 503, got %d", st)
	}
	_, m := token(t, ts, "cid", "csecret")
	tok := m["access_token"].(string)
	s.SetFault(Fault{Kind: FaultDropAfter, Count: 1})
	b, _ := json.Marshal(map[string]any{"clientId": "cid", "clientSecret": "csecret", "employeeNumber": "E1", "workingDay": "2024-01-05", "startWorkTime": "2024-01-05 08:51:02"})
	req, _ := http.NewRequest(http.MethodPost, ts.URL+PathRecord, strings.NewReader(string(b)))
	req.Header.Set("Authorization", "Bearer "+tok)
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("want a dropped connection")
	}
	if len(s.Records()) != 1 {
		t.Fatal("drop-after must store the record")
	}
	s.SetFault(Fault{Kind: FaultCode, Code: CodeRestricted})
	if _, m := post(t, ts, tok, map[string]any{}); m["code"] != CodeRestricted {
		t.Fatalf("forced code: %v", m)
	}
}
