package push

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

// API paths (daou-openapi.md §2.1, §4, §6, §8.2).
const (
	PathToken   = "/public/auth/v1/oauth2/token"
	PathRecord  = "/public/v2/attnd/record"
	PathUserV3  = "/public/api/attnd-v3/organization-chart/user/list"
	PathAttndV2 = "/public/api/attnd-v2/attnd"
)

// Sentinel errors of the push: both stop a run.
var (
	// ErrBlocked is code 903 (서비스 이용 제한): the integration is restricted;
	// stop pushing and alert a human.
	ErrBlocked = errors.New("daou: integration blocked (903 service restricted)")
	// ErrConfig is 901/902/904 or a 401 that a fresh token does not cure:
	// credentials or contract are wrong; stop with a clear message.
	ErrConfig = errors.New("daou: configuration error")
)

// Kind classifies a failed call.
type Kind int

// Kinds of failure.
const (
	KindTransport Kind = iota + 1 // no answer (timeout, dropped connection): outcome unknown
	KindServer                    // HTTP 5xx or an undecodable answer: outcome unknown
	KindRateLimit                 // 905: not processed
	KindRejected                  // 925/926: this record is refused
	KindBlocked                   // 903
	KindConfig                    // 901/902/904, persistent 401
)

// CallError is a failed Daou call. Its text never contains credentials.
type CallError struct {
	Kind    Kind
	Status  int
	Code    string
	Message string
	Err     error
}

func (e *CallError) Error() string {
	var b strings.Builder
	b.WriteString("daou")
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, ": code %s", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *CallError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrBlocked/ErrConfig) work.
func (e *CallError) Is(target error) bool {
	return (target == ErrBlocked && e.Kind == KindBlocked) || (target == ErrConfig && e.Kind == KindConfig)
}

// notSentError wraps a failure that happened before the request left (token
// fetch, rate limiter): the server cannot have stored anything.
type notSentError struct{ err error }

func (e *notSentError) Error() string { return e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }

// Ambiguous reports whether the server may have processed the call.
func (e *CallError) Ambiguous() bool { return e.Kind == KindTransport || e.Kind == KindServer }

// Client talks to the Daou OpenAPI. The bearer token is cached in memory and
// in stateDir/daou-token.json (mode 0600), renewed before expires_in runs out,
// and renewed once on HTTP 401. Safe for concurrent use.
type Client struct {
	cfg    Config
	hc     *http.Client
	log    *slog.Logger
	loc    *time.Location
	state  string
	lim    *limiter
	now    func() time.Time
	credID string // hash identifying base URL + credentials of the persisted token

	mu      sync.Mutex
	token   string
	expires time.Time
	renewed int

	loginMu  sync.Mutex
	logins   map[string]string
	loginsAt time.Time
}

// NewClient validates cfg (after defaults) and returns a client. stateDir ""
// keeps the token in memory only; hc nil uses a fresh http.Client.
func NewClient(cfg Config, stateDir string, hc *http.Client, log *slog.Logger) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	loc, err := loadLocation(cfg.Fields.Location)
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	if hc == nil {
		hc = &http.Client{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sum := sha256.Sum256([]byte(cfg.BaseURL + "\x00" + cfg.ClientID + "\x00" + cfg.ClientSecret))
	c := &Client{cfg: cfg, hc: hc, log: log, loc: loc, state: stateDir, lim: newLimiter(cfg.RatePerSecond), now: time.Now, credID: hex.EncodeToString(sum[:8])}
	if stateDir != "" {
		if err := os.MkdirAll(stateDir, 0o700); err != nil {
			return nil, fmt.Errorf("push: state dir: %w", err)
		}
		c.loadToken()
	}
	return c, nil
}

// Config returns the effective configuration (with defaults).
func (c *Client) Config() Config { return c.cfg }

type tokenFile struct {
	Cred        string    `json:"cred"`
	AccessToken string    `json:"access_token"`
	ExpiresAt   time.Time `json:"expires_at"`
}

func (c *Client) tokenPath() string { return filepath.Join(c.state, "daou-token.json") }

func (c *Client) loadToken() {
	b, err := os.ReadFile(c.tokenPath())
	if err != nil {
		return
	}
	var tf tokenFile
	if json.Unmarshal(b, &tf) != nil || tf.Cred != c.credID || tf.AccessToken == "" {
		return
	}
	c.token, c.expires = tf.AccessToken, tf.ExpiresAt
}

func (c *Client) saveToken(tok string, exp time.Time) {
	if c.state == "" {
		return
	}
	b, _ := json.Marshal(tokenFile{Cred: c.credID, AccessToken: tok, ExpiresAt: exp})
	tmp := c.tokenPath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err == nil {
		err = os.Rename(tmp, c.tokenPath())
		if err == nil {
			return
		}
	}
	c.log.Warn("push: token not persisted", "dir", c.state)
}

// renewMargin: integrators renew 300 s early (§2.1); short test TTLs renew at 90 %.
func renewMargin(ttl time.Duration) time.Duration {
	return min(300*time.Second, ttl/10)
}

// Token returns a valid bearer token, fetching one when none is cached or
// the cached one is near expiry. It satisfies match.TokenSource.
func (c *Client) Token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && c.now().Before(c.expires) {
		return c.token, nil
	}
	tok, ttl, err := c.fetchToken(ctx)
	if err != nil {
		return "", err
	}
	exp := c.now().Add(ttl - renewMargin(ttl))
	c.token, c.expires = tok, exp
	c.renewed++
	c.saveToken(tok, exp)
	return tok, nil
}

// Invalidate drops tok if it is the cached token (after a 401).
func (c *Client) Invalidate(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == tok {
		c.token = ""
	}
}

// TokensFetched is the number of tokens fetched by this client.
func (c *Client) TokensFetched() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.renewed
}

func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	if err := c.lim.wait(ctx); err != nil {
		return "", 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+PathToken, strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("push: token request: %w", err)
	}
	req.SetBasicAuth(c.cfg.ClientID, c.cfg.ClientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	status, body, err := c.do(req)
	if err != nil {
		return "", 0, fmt.Errorf("push: token: %w", err)
	}
	var tr struct {
		AccessToken string     `json:"access_token"`
		TokenType   string     `json:"token_type"`
		ExpiresIn   flexString `json:"expires_in"` // String in the field table, number in the example (§2.1)
	}
	if status/100 != 2 || json.Unmarshal(body, &tr) != nil || tr.AccessToken == "" {
		e := classify(status, body)
		if e.Kind == 0 {
			e = &CallError{Kind: KindServer, Status: status, Message: "token response without access_token"}
		}
		if status == http.StatusUnauthorized && e.Code == "" {
			e.Kind = KindConfig // HTTP 401 from the token API: the credentials are wrong
		}
		return "", 0, fmt.Errorf("push: token: %w", e)
	}
	ttl := 86400 * time.Second
	if tr.ExpiresIn != "" {
		n, err := strconv.ParseFloat(string(tr.ExpiresIn), 64)
		if err != nil || n <= 0 {
			return "", 0, fmt.Errorf("push: token: expires_in %q is not a positive number", tr.ExpiresIn)
		}
		ttl = time.Duration(n * float64(time.Second))
	}
	return tr.AccessToken, ttl, nil
}

// do sends req through the HTTP client and reads the body (bounded).
func (c *Client) do(req *http.Request) (int, []byte, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, &CallError{Kind: KindTransport, Err: redactURLError(err)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, nil, &CallError{Kind: KindTransport, Status: resp.StatusCode, Err: err}
	}
	return resp.StatusCode, b, nil
}

// redactURLError drops the URL's query (none carries secrets today, but a
// URL never should reach a log with one).
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// flexString decodes a JSON string or number as a string; null as "".
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
			return err
		}
		*f = flexString(n.String())
	}
	return nil
}

// envelope is {code, message, data} / {code, message, messageDetail} (§3.1).
type envelope struct {
	Code          flexString      `json:"code"`
	Message       string          `json:"message"`
	MessageDetail string          `json:"messageDetail"`
	Data          json.RawMessage `json:"data"`
}

// classify turns an answer into nil (success) or a CallError. The envelope
// code decides when present; the HTTP status only when there is none.
// ASSUMPTION: a 2xx answer without a code is a success (the success envelope
// is known only from integrator code).
func classify(status int, body []byte) *CallError {
	var env envelope
	jerr := json.Unmarshal(body, &env)
	code := strings.TrimSpace(string(env.Code))
	msg := env.Message
	if env.MessageDetail != "" {
		msg += " (" + env.MessageDetail + ")"
	}
	e := &CallError{Status: status, Code: code, Message: clip(msg)}
	switch code {
	case "200":
		if status/100 == 2 {
			return nil
		}
	case "":
		if jerr == nil && status/100 == 2 {
			return nil
		}
	case "401":
		e.Kind = KindConfig // reached only after the one renewal; see call
		return e
	case "901", "902", "904":
		e.Kind = KindConfig
		return e
	case "903":
		e.Kind = KindBlocked
		return e
	case "905":
		e.Kind = KindRateLimit
		return e
	case "925", "926":
		e.Kind = KindRejected
		return e
	}
	switch {
	case status == http.StatusTooManyRequests:
		e.Kind = KindRateLimit
	case status == http.StatusUnauthorized:
		e.Kind = KindConfig
	case status >= 500 || status/100 == 2:
		// 5xx, or 2xx we cannot read: the server may have stored the record.
		e.Kind = KindServer
		if jerr != nil && e.Message == "" {
			e.Message = "undecodable response: " + clip(string(body))
		}
	default:
		// ASSUMPTION: another 4xx with an unknown code is a refusal of this record.
		e.Kind = KindRejected
		if e.Message == "" {
			e.Message = clip(string(body))
		}
	}
	return e
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// authed sends a request built by mk with a bearer token; on HTTP 401 it
// renews the token once and retries.
func (c *Client) authed(ctx context.Context, mk func(ctx context.Context, tok string) (*http.Request, error)) (int, []byte, error) {
	for attempt := 0; ; attempt++ {
		tok, err := c.Token(ctx)
		if err != nil {
			return 0, nil, &notSentError{err}
		}
		if err := c.lim.wait(ctx); err != nil {
			return 0, nil, &notSentError{err}
		}
		cctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		req, err := mk(cctx, tok)
		if err != nil {
			cancel()
			return 0, nil, err
		}
		status, body, err := c.do(req)
		cancel()
		if err != nil {
			return status, body, err
		}
		if attempt == 0 && (status == http.StatusUnauthorized || envelopeCode(body) == "401") {
			c.log.Info("push: token refused, renewing", "path", req.URL.Path)
			c.Invalidate(tok)
			continue
		}
		return status, body, nil
	}
}

// envelopeCode is the envelope's code, "" when there is none.
func envelopeCode(body []byte) string {
	var env envelope
	if json.Unmarshal(body, &env) != nil {
		return ""
	}
	return strings.TrimSpace(string(env.Code))
}

// Payload is the record body without credentials, and its content hash
// (sha256 of the canonical JSON, hex). Field names and formats come from
// FieldConfig. Site and flags are not sent (ASSUMPTION: no such fields).
func (c *Client) Payload(rec attendance.DailyRecord) (map[string]any, string, error) {
	f := c.cfg.Fields
	if strings.TrimSpace(rec.EmployeeNo) == "" {
		return nil, "", errors.New("empty employee_no")
	}
	day, err := time.ParseInLocation("2006-01-02", rec.WorkingDay, c.loc)
	if err != nil {
		return nil, "", fmt.Errorf("working_day %q is not YYYY-MM-DD", rec.WorkingDay)
	}
	p := map[string]any{"employeeNumber": rec.EmployeeNo, "workingDay": day.Format(f.WorkingDayFormat)}
	put := func(name string, t *time.Time) {
		switch {
		case t != nil:
			p[name] = t.In(c.loc).Format(f.TimeFormat)
		case !f.OmitNull:
			p[name] = nil
		}
	}
	put(f.ClockIn, rec.ClockIn)
	put(f.ClockOut, rec.ClockOut)
	if f.Type != "" {
		p[f.Type] = f.TypeValue
	}
	b, _ := json.Marshal(p) // sorted keys: canonical
	sum := sha256.Sum256(b)
	return p, hex.EncodeToString(sum[:16]), nil
}

// PostRecord sends one record with Authorization: Bearer and, as the manual
// still requires, clientId/clientSecret in the body. The result's Outcome is
// accepted (2xx, code 200: in the middle DB, not yet visible), rejected
// (925/926, with a nil error) or failed (with the *CallError). Attempts is 1.
func (c *Client) PostRecord(ctx context.Context, rec attendance.DailyRecord) (attendance.PushResult, error) {
	res := attendance.PushResult{Site: rec.Site, EmployeeNo: rec.EmployeeNo, WorkingDay: rec.WorkingDay, Attempts: 1, At: c.now().UTC()}
	p, hash, err := c.Payload(rec)
	if err != nil {
		res.Outcome, res.Code, res.Message = attendance.PushRejected, "local", err.Error()
		return res, nil
	}
	shown, _ := json.Marshal(p)
	res.ContentHash, res.Payload = hash, string(shown)
	body := make(map[string]any, len(p)+5)
	for k, v := range p {
		body[k] = v
	}
	body["clientId"], body["clientSecret"] = c.cfg.ClientID, c.cfg.ClientSecret
	for k, v := range map[string]string{"productName": c.cfg.ProductName, "productVersion": c.cfg.ProductVersion, "clientCompanyName": c.cfg.ClientCompanyName} {
		if v != "" {
			body[k] = v
		}
	}
	raw, _ := json.Marshal(body)
	status, answer, err := c.authed(ctx, func(ctx context.Context, tok string) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+PathRecord, bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json; charset=UTF-8")
		req.Header.Set("Accept", "application/json")
		return req, nil
	})
	res.HTTPStatus = status
	if err != nil {
		res.Outcome, res.Message = attendance.PushFailed, err.Error()
		var ce *CallError
		if errors.As(err, &ce) {
			res.Code = ce.Code
		}
		return res, err
	}
	ce := classify(status, answer)
	if ce == nil {
		var env envelope
		_ = json.Unmarshal(answer, &env)
		res.Outcome, res.Code, res.Message = attendance.PushAccepted, string(env.Code), env.Message
		if res.Code == "" {
			res.Code = "200"
		}
		return res, nil
	}
	res.Code, res.Message = ce.Code, ce.Message
	if ce.Kind == KindRejected {
		res.Outcome = attendance.PushRejected
		return res, nil
	}
	res.Outcome = attendance.PushFailed
	return res, ce
}
