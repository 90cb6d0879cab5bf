package match

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

// DaouConfig locates the Daou Office OpenAPI (DOAS) for the account list.
type DaouConfig struct {
	BaseURL      string `yaml:"base_url" json:"base_url"` // default https://api.daouoffice.com
	ClientID     string `yaml:"client_id" json:"client_id"`
	ClientSecret string `yaml:"client_secret" json:"-"`
	// Log receives the counts of skipped rows; nil discards.
	Log *slog.Logger `yaml:"-" json:"-"`
}

// DefaultDaouBaseURL is the only OpenAPI host (daou-openapi.md §1.1).
const DefaultDaouBaseURL = "https://api.daouoffice.com"

// Account list paths (daou-openapi.md §8).
const (
	PathAccountV1 = "/public/v1/account"
	PathUserV3    = "/public/api/attnd-v3/organization-chart/user/list"
)

// maxListBytes bounds an account list response (a large tenant is a few MB).
const maxListBytes = 64 << 20

// TokenSource yields a bearer token (the push package's token cache).
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// tokenInvalidator is optionally implemented by a TokenSource: after a 401
// the provider drops the token and retries once with a fresh one.
type tokenInvalidator interface {
	Invalidate(token string)
}

func (c DaouConfig) base() string {
	b := strings.TrimRight(strings.TrimSpace(c.BaseURL), "/")
	if b == "" {
		return DefaultDaouBaseURL
	}
	return b
}

func (c DaouConfig) log() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}

// flexString decodes a JSON string or number (codes and employee numbers
// arrive as either) and null as "".
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("want a string or number, got %s", clipBytes(b))
		}
		*f = flexString(n.String())
	}
	return nil
}

// envelope is the DOAS response: {code, message, data} on success and
// {code, message, messageDetail} on failure (daou-openapi.md §0).
type envelope struct {
	Code          flexString      `json:"code"`
	Message       string          `json:"message"`
	MessageDetail string          `json:"messageDetail"`
	Data          json.RawMessage `json:"data"`
}

// daouAccount is one row of either list. Fields documented by integrators:
// v1 koName, loginId, status, employeeNumber; v3 name, loginId,
// employeeNumber, status, expiredDate.
type daouAccount struct {
	LoginID        string     `json:"loginId"`
	EmployeeNumber flexString `json:"employeeNumber"`
	KoName         string     `json:"koName"` // v1
	Name           string     `json:"name"`   // v3
	Status         string     `json:"status"`
	// ASSUMPTION: only the v3 list is seen with expiredDate; read from v1 too
	// in case it is there.
	ExpiredDate flexString `json:"expiredDate"`
}

type daouV1 struct {
	cfg DaouConfig
	hc  *http.Client
}

// DaouV1 lists accounts with POST /public/v1/account, credentials in the JSON
// body (daou-openapi.md §8.1). The optional productName, productVersion and
// clientCompanyName body fields are not sent.
// ASSUMPTION: every account comes in one response (no paging parameters were
// seen in integrator code).
func DaouV1(cfg DaouConfig, hc *http.Client) Provider {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &daouV1{cfg: cfg, hc: hc}
}

func (d *daouV1) Name() string { return "daou v1 " + PathAccountV1 }

func (d *daouV1) Employees(ctx context.Context) ([]attendance.Employee, error) {
	body, _ := json.Marshal(map[string]string{"clientId": d.cfg.ClientID, "clientSecret": d.cfg.ClientSecret})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.cfg.base()+PathAccountV1, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("match: daou v1: %w", err)
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("Accept", "application/json")
	_, env, err := doList(d.hc, req)
	if err != nil {
		return nil, fmt.Errorf("match: daou v1 account list: %w", err)
	}
	emps, err := accounts(env.Data, d.cfg.log(), "v1")
	if err != nil {
		return nil, fmt.Errorf("match: daou v1 account list: %w", err)
	}
	return emps, nil
}

type daouV3 struct {
	cfg    DaouConfig
	tokens TokenSource
	hc     *http.Client
}

// DaouV3 lists users with GET /public/api/attnd-v3/organization-chart/user/list
// and a bearer token (daou-openapi.md §8.2).
// ASSUMPTION: no query parameters and every user in one response, as the
// integrators call it; the envelope is assumed to be the v1 one. After a 401 it asks for a fresh
// token once when the TokenSource has an Invalidate(token string) method.
func DaouV3(cfg DaouConfig, tokens TokenSource, hc *http.Client) Provider {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &daouV3{cfg: cfg, tokens: tokens, hc: hc}
}

func (d *daouV3) Name() string { return "daou v3 " + PathUserV3 }

func (d *daouV3) Employees(ctx context.Context) ([]attendance.Employee, error) {
	if d.tokens == nil {
		return nil, errors.New("match: daou v3: no token source")
	}
	for attempt := 0; ; attempt++ {
		tok, err := d.tokens.Token(ctx)
		if err != nil {
			return nil, fmt.Errorf("match: daou v3: token: %w", err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.cfg.base()+PathUserV3, nil)
		if err != nil {
			return nil, fmt.Errorf("match: daou v3: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		status, env, err := doList(d.hc, req)
		if status == http.StatusUnauthorized && attempt == 0 {
			if inv, ok := d.tokens.(tokenInvalidator); ok {
				inv.Invalidate(tok)
				continue
			}
		}
		if err != nil {
			return nil, fmt.Errorf("match: daou v3 user list: %w", err)
		}
		emps, err := accounts(env.Data, d.cfg.log(), "v3")
		if err != nil {
			return nil, fmt.Errorf("match: daou v3 user list: %w", err)
		}
		return emps, nil
	}
}

// doList sends req and decodes the envelope. A non-2xx status or a code
// other than 200 is an error naming code, message and detail.
func doList(hc *http.Client, req *http.Request) (int, envelope, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return 0, envelope{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxListBytes+1))
	if err != nil {
		return resp.StatusCode, envelope{}, fmt.Errorf("read body: %w", err)
	}
	if len(b) > maxListBytes {
		return resp.StatusCode, envelope{}, fmt.Errorf("response over %d bytes", maxListBytes)
	}
	var env envelope
	jerr := json.Unmarshal(b, &env)
	if resp.StatusCode/100 != 2 {
		if jerr == nil && (env.Code != "" || env.Message != "") {
			return resp.StatusCode, env, fmt.Errorf("HTTP %d: code %s: %s", resp.StatusCode, env.Code, joinMsg(env))
		}
		return resp.StatusCode, env, fmt.Errorf("HTTP %d: %s", resp.StatusCode, clipBytes(b))
	}
	if jerr != nil {
		return resp.StatusCode, env, fmt.Errorf("decode response: %w", jerr)
	}
	// ASSUMPTION: a success envelope without a code is accepted; the success
	// envelope itself is known only from integrator code (daou-openapi.md §0).
	if env.Code != "" && env.Code != "200" {
		return resp.StatusCode, env, fmt.Errorf("code %s: %s", env.Code, joinMsg(env))
	}
	return resp.StatusCode, env, nil
}

func joinMsg(env envelope) string {
	if env.MessageDetail != "" {
		return env.Message + " (" + env.MessageDetail + ")"
	}
	return env.Message
}

// accounts decodes the data member into employees. Rows without a loginId
// (department or group nodes) and without an employeeNumber (not a push
// target) are skipped and counted in the log.
func accounts(data json.RawMessage, log *slog.Logger, api string) ([]attendance.Employee, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return nil, errors.New("response has no data")
	}
	var rows []daouAccount
	if data[0] == '[' {
		if err := json.Unmarshal(data, &rows); err != nil {
			return nil, fmt.Errorf("decode data: %w", err)
		}
	} else {
		// ASSUMPTION: data is documented as the array itself (v1, seen in
		// integrator code); v3 callers were not seen paging, but a paged
		// object {elements|list: [...]} like the attnd-v2 read API is
		// tolerated. More than one page is not followed.
		var obj struct {
			Elements []daouAccount `json:"elements"`
			List     []daouAccount `json:"list"`
		}
		if err := json.Unmarshal(data, &obj); err != nil {
			return nil, fmt.Errorf("decode data: %w", err)
		}
		if obj.Elements == nil && obj.List == nil {
			return nil, fmt.Errorf("data is neither a list nor an object with elements: %s", clipBytes(data))
		}
		rows = append(obj.Elements, obj.List...)
	}
	var out []attendance.Employee
	noLogin, noNumber := 0, 0
	for _, r := range rows {
		no := strings.TrimSpace(string(r.EmployeeNumber))
		login := strings.TrimSpace(r.LoginID)
		switch {
		case login == "":
			noLogin++
			continue
		case no == "":
			noNumber++
			continue
		}
		name := r.Name
		if name == "" {
			name = r.KoName
		}
		out = append(out, attendance.Employee{
			EmployeeNo:  no,
			LoginID:     login,
			Name:        strings.TrimSpace(name),
			Status:      strings.TrimSpace(r.Status),
			ExpiredDate: strings.TrimSpace(string(r.ExpiredDate)),
		})
	}
	if noLogin+noNumber > 0 {
		log.Info("match: daou account rows skipped", "api", api, "rows", len(rows), "without_login_id", noLogin, "without_employee_number", noNumber)
	}
	return out, nil
}

func clipBytes(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	return s
}
