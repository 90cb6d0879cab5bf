package match

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

// v1Server answers POST /public/v1/account as integrators saw it
// (daou-openapi.md §8.1): credentials in the JSON body, every row in data.
func v1Server(t *testing.T, body string) *httptest.Server {
	t.Helper()
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != PathAccountV1 {
			http.NotFound(w, r)
			return
		}
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
		}
		var creds struct {
			ClientID     string `json:"clientId"`
			ClientSecret string `json:"clientSecret"`
		}
		if err := json.NewDecoder(r.Body).Decode(&creds); err != nil {
			t.Errorf("body: %v", err)
		}
		switch {
		case creds.ClientID != "cid":
			io.WriteString(w, `{"code":"901","message":"invalid clientId","messageDetail":"no such client"}`)
		case creds.ClientSecret != "secret":
			io.WriteString(w, `{"code":902,"message":"invalid clientSecret"}`)
		default:
			io.WriteString(w, body)
		}
	}))
}

const v1Body = `{"code":200,"message":"OK","data":[
 {"koName":"김민수","loginId":"kim","email":"kim@example.com","status":"ONLINE","positionName":"사원","mobileNo":"","directTel":"","employeeNumber":"00120001","joinDate":"2020-01-02"},
 {"koName":"이서연","loginId":"lee","email":"","status":"STOP","employeeNumber":120002,"joinDate":"2021-03-04"},
 {"koName":"관리자","loginId":"admin","status":"ONLINE","employeeNumber":""},
 {"koName":"개발팀","loginId":"","employeeNumber":null}
]}`

func TestDaouV1(t *testing.T) {
	srv := v1Server(t, v1Body)
	defer srv.Close()
	emps, err := DaouV1(DaouConfig{BaseURL: srv.URL + "/", ClientID: "cid", ClientSecret: "secret"}, srv.Client()).Employees(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []attendance.Employee{
		{EmployeeNo: "00120001", LoginID: "kim", Name: "김민수", Status: "ONLINE"},
		{EmployeeNo: "120002", LoginID: "lee", Name: "이서연", Status: "STOP"},
	}
	if !reflect.DeepEqual(emps, want) {
		t.Errorf("got  %+v\nwant %+v", emps, want)
	}
	for _, tt := range []struct{ id, secret, want string }{
		{"bad", "secret", "code 901: invalid clientId (no such client)"},
		{"cid", "bad", "code 902: invalid clientSecret"},
	} {
		_, err := DaouV1(DaouConfig{BaseURL: srv.URL, ClientID: tt.id, ClientSecret: tt.secret}, srv.Client()).Employees(context.Background())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("err = %v, want %q", err, tt.want)
		}
	}
}

// fakeTokens hands out numbered tokens and records invalidations.
type fakeTokens struct {
	mu          sync.Mutex
	n           int
	invalidated []string
}

func (f *fakeTokens) Token(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		f.n = 1
	}
	return "tok" + string(rune('0'+f.n)), nil
}

func (f *fakeTokens) Invalidate(tok string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invalidated = append(f.invalidated, tok)
	f.n++
}

// v3Server answers GET .../organization-chart/user/list for the bearer token
// valid (daou-openapi.md §8.2); other tokens get a 401.
func v3Server(t *testing.T, valid, body string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	calls := new(atomic.Int32)
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Method != http.MethodGet || r.URL.Path != PathUserV3 {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+valid {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"code":"401","message":"invalid token"}`)
			return
		}
		io.WriteString(w, body)
	})), calls
}

const v3Body = `{"code":"200","message":"OK","data":[
 {"loginId":"kim","name":"김민수","employeeNumber":"00120001","status":"NORMAL","positionName":"사원","gradeName":"","employeeType":"정규","joinDate":"2020-01-02","expiredDate":"","directTel":"","userGroups":[{"type":"DEPT","name":"개발팀"}]},
 {"loginId":"park","name":"박지훈","employeeNumber":"00120003","status":"NORMAL","expiredDate":"2026-03-31"},
 {"loginId":"","name":"개발팀","employeeNumber":""}
]}`

func TestDaouV3(t *testing.T) {
	srv, _ := v3Server(t, "tok1", v3Body)
	defer srv.Close()
	emps, err := DaouV3(DaouConfig{BaseURL: srv.URL}, &fakeTokens{}, srv.Client()).Employees(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []attendance.Employee{
		{EmployeeNo: "00120001", LoginID: "kim", Name: "김민수", Status: "NORMAL"},
		{EmployeeNo: "00120003", LoginID: "park", Name: "박지훈", Status: "NORMAL", ExpiredDate: "2026-03-31"},
	}
	if !reflect.DeepEqual(emps, want) {
		t.Errorf("got  %+v\nwant %+v", emps, want)
	}
}

func TestDaouV3RenewsTokenOnceAfter401(t *testing.T) {
	srv, calls := v3Server(t, "tok2", v3Body)
	defer srv.Close()
	tokens := &fakeTokens{}
	emps, err := DaouV3(DaouConfig{BaseURL: srv.URL}, tokens, srv.Client()).Employees(context.Background())
	if err != nil || len(emps) != 2 {
		t.Fatalf("emps %v, err %v", emps, err)
	}
	if !reflect.DeepEqual(tokens.invalidated, []string{"tok1"}) || calls.Load() != 2 {
		t.Errorf("invalidated %v after %d calls, want tok1 after 2", tokens.invalidated, calls.Load())
	}
	// A token that is never accepted: one renewal, then the error.
	srv2, calls2 := v3Server(t, "never", v3Body)
	defer srv2.Close()
	_, err = DaouV3(DaouConfig{BaseURL: srv2.URL}, &fakeTokens{}, srv2.Client()).Employees(context.Background())
	if err == nil || !strings.Contains(err.Error(), "HTTP 401: code 401: invalid token") || calls2.Load() != 2 {
		t.Errorf("err = %v after %d calls", err, calls2.Load())
	}
}

func TestDaouListShapesAndFailures(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   string // error substring; "" = success with one employee
	}{
		{"paged object", 200, `{"code":200,"data":{"elements":[{"loginId":"a","employeeNumber":"1","name":"A"}],"totalCount":1}}`, ""},
		{"no code", 200, `{"data":[{"loginId":"a","employeeNumber":"1"}]}`, ""},
		{"call limit", 200, `{"code":"905","message":"API 호출 한도 초과"}`, "code 905: API 호출 한도 초과"},
		{"server error", 502, `<html>bad gateway</html>`, "HTTP 502: <html>bad gateway</html>"},
		{"not json", 200, `OK`, "decode response"},
		{"no data", 200, `{"code":200,"message":"OK"}`, "no data"},
		{"data of another shape", 200, `{"code":200,"data":{"total":3}}`, "neither a list nor an object"},
		{"number of another type", 200, `{"code":200,"data":[{"loginId":"a","employeeNumber":{"x":1}}]}`, "decode data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			for _, p := range []Provider{
				DaouV1(DaouConfig{BaseURL: srv.URL}, srv.Client()),
				DaouV3(DaouConfig{BaseURL: srv.URL}, &fakeTokens{}, srv.Client()),
			} {
				emps, err := p.Employees(context.Background())
				if tt.want == "" {
					if err != nil || len(emps) != 1 || emps[0].EmployeeNo != "1" {
						t.Errorf("%s: %v, %v", p.Name(), emps, err)
					}
					continue
				}
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s: err = %v, want %q", p.Name(), err, tt.want)
				}
			}
		})
	}
}

func TestDaouUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	if _, err := DaouV1(DaouConfig{BaseURL: url}, nil).Employees(context.Background()); err == nil {
		t.Error("v1: no error from a closed server")
	}
	if _, err := DaouV3(DaouConfig{BaseURL: url}, nil, nil).Employees(context.Background()); err == nil || !strings.Contains(err.Error(), "no token source") {
		t.Errorf("v3 without tokens: %v", err)
	}
}
