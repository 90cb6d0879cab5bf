// Package daousim is an in-process simulator of the Daou Office OpenAPI
// (DOAS) as described in shared/docs/daou-openapi.md: the OAuth2 token API,
// POST /public/v2/attnd/record into a last-write-wins "middle DB" with a
// separate synced view, the v1 and v3 account lists and the attnd-v2 read
// API, plus the 401/901/902/903/904/905/925/926 error paths, fault switches
// and counters for tests.
//
// Guarantee: every request is answered from one mutex-guarded state, so the
// counters (Records, Synced, IdenticalResends, Calls) are exact at any moment;
// nothing is package-global. Every behaviour the document does not state is
// marked ASSUMPTION in this file.
package daousim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// API paths (daou-openapi.md §2.1, §4, §6, §8).
const (
	PathToken   = "/public/auth/v1/oauth2/token"
	PathRecord  = "/public/v2/attnd/record"
	PathAccount = "/public/v1/account"
	PathUserV3  = "/public/api/attnd-v3/organization-chart/user/list"
	PathAttndV2 = "/public/api/attnd-v2/attnd"
)

// Error codes (daou-openapi.md §3.2).
const (
	CodeOK            = "200"
	CodeUnauthorized  = "401" // ASSUMPTION: the code of an expired/unknown token; only HTTP 401 is implied by integrators
	CodeBadClientID   = "901"
	CodeBadSecret     = "902"
	CodeRestricted    = "903"
	CodeExpired       = "904"
	CodeCallLimit     = "905"
	CodeBadParameter  = "925"
	CodeInvalidUserID = "926"
)

// Employee is one Daou account of the simulated tenant.
type Employee struct {
	EmployeeNumber string
	LoginID        string
	Name           string
	Status         string // ASSUMPTION: "ONLINE" when empty (the value v1 integrators filter on)
	ExpiredDate    string // YYYY-MM-DD or ""
}

// Fields is the simulated attnd/record payload schema. The real field table
// is unpublished (daou-openapi.md §4.2), so everything but employeeNumber and
// workingDay is configurable. Layouts are Go time layouts.
type Fields struct {
	// ASSUMPTION: the format of workingDay; default "2006-01-02" (the read API's date format).
	WorkingDayFormat string
	// ASSUMPTION: clock-in field name; default "startWorkTime" (the read API's element name).
	ClockIn string
	// ASSUMPTION: clock-out field name; default "endWorkTime".
	ClockOut string
	// ASSUMPTION: time format; default "2006-01-02 15:04:05" (a full local
	// datetime, so a clock-out after midnight is expressible).
	TimeFormat string
	// ASSUMPTION: attendance type field name; default "" = no type field.
	Type string
}

// DefaultFields are the defaults push.FieldConfig also uses.
func DefaultFields() Fields {
	return Fields{WorkingDayFormat: "2006-01-02", ClockIn: "startWorkTime", ClockOut: "endWorkTime", TimeFormat: "2006-01-02 15:04:05"}
}

// Options configure a simulator. Zero values are the documented defaults.
type Options struct {
	ClientID, ClientSecret string
	Employees              []Employee
	// TokenTTL is expires_in (default 86400 s, daou-openapi.md §2.1).
	TokenTTL time.Duration
	// ExpiresInAsString sends expires_in as "86400" (the field table) instead
	// of 86400 (the JSON example).
	ExpiresInAsString bool
	// CodeAsNumber sends the envelope code as a number (v1 shape) instead of
	// a string.
	CodeAsNumber bool
	// BlockAfter: after this many identical sends of the same record (content
	// equal to the stored one), the integration is blocked (903 on every later
	// call). 0 = never. ASSUMPTION: the real threshold is unknown (§9).
	BlockAfter int
	// RatePerSecond limits all API calls (token bucket, Burst tokens); over
	// it the call gets 905. 0 = unlimited. ASSUMPTION: numbers unknown (§9).
	RatePerSecond float64
	Burst         int
	// SyncEvery runs Sync on a schedule (Daou allows at most 4 a day); 0 =
	// only manual Sync. SyncOnWrite syncs each accepted record at once (tests
	// that read back through attnd-v2).
	SyncEvery   time.Duration
	SyncOnWrite bool
	// ServiceExpired answers 904 to everything.
	ServiceExpired bool
	// Types are the registered attendance types; a record with another type
	// is accepted into the middle DB but never synced (§4.1 rule 6). Empty =
	// every type is registered.
	Types  []string
	Fields Fields
	// ErrorsAsHTTP200 answers errors with HTTP 200 and the code in the
	// envelope. ASSUMPTION: by default errors use 401 (token), 400
	// (901/902/904/925/926), 403 (903), 429 (905); the real statuses are
	// unknown (§3.1).
	ErrorsAsHTTP200 bool
	Location        *time.Location // default Asia/Seoul (ASSUMPTION: KST wall clock, §12.13)
	Now             func() time.Time
	Log             *slog.Logger
}

// Key identifies a record: employeeNumber + workingDay (§4.1).
type Key struct{ EmployeeNumber, WorkingDay string }

// Record is a stored attendance record.
type Record struct {
	EmployeeNumber string
	WorkingDay     string // as sent
	ClockIn        string // as sent ("" when absent)
	ClockOut       string
	Type           string
	Content        string // canonical JSON of the body without credentials
	Writes         int    // accepted writes to this key
	At             time.Time
}

// FaultKind is a test fault.
type FaultKind int

// Fault kinds.
const (
	FaultNone      FaultKind = iota
	Fault5xx                 // answer Status (default 503) without processing
	FaultHang                // hold the request until the client gives up (or Close)
	FaultDrop                // close the connection without processing
	FaultDropAfter           // process the request, then close the connection without an answer
	FaultCode                // answer Code (with its usual HTTP status) without processing
)

// Fault is a switch applied to requests on Path (default PathRecord).
type Fault struct {
	Kind   FaultKind
	Status int
	Code   string
	Count  int    // number of requests affected; 0 = until cleared
	Path   string // "" = PathRecord; "*" = every path
}

// Server is the simulator; it is an http.Handler.
type Server struct {
	opts Options
	log  *slog.Logger
	loc  *time.Location

	mu        sync.Mutex
	tokens    map[string]time.Time
	middle    map[Key]*Record
	synced    map[Key]Record
	identical int
	identKey  map[Key]int
	blocked   bool
	calls     map[string]int
	fault     Fault
	bucket    float64
	bucketAt  time.Time
	syncs     int

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// New returns a simulator; call Close to stop its sync schedule.
func New(opts Options) *Server {
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 86400 * time.Second
	}
	d := DefaultFields()
	if opts.Fields.WorkingDayFormat == "" {
		opts.Fields.WorkingDayFormat = d.WorkingDayFormat
	}
	if opts.Fields.ClockIn == "" {
		opts.Fields.ClockIn = d.ClockIn
	}
	if opts.Fields.ClockOut == "" {
		opts.Fields.ClockOut = d.ClockOut
	}
	if opts.Fields.TimeFormat == "" {
		opts.Fields.TimeFormat = d.TimeFormat
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Burst <= 0 {
		opts.Burst = 1
	}
	s := &Server{
		opts:     opts,
		log:      opts.Log,
		loc:      opts.Location,
		tokens:   map[string]time.Time{},
		middle:   map[Key]*Record{},
		synced:   map[Key]Record{},
		identKey: map[Key]int{},
		calls:    map[string]int{},
		bucket:   float64(opts.Burst),
		bucketAt: opts.Now(),
		stop:     make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.loc == nil {
		loc, err := time.LoadLocation("Asia/Seoul")
		if err != nil {
			loc = time.FixedZone("KST", 9*3600)
		}
		s.loc = loc
	}
	if opts.SyncEvery > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			t := time.NewTicker(opts.SyncEvery)
			defer t.Stop()
			for {
				select {
				case <-s.stop:
					return
				case <-t.C:
					s.Sync()
				}
			}
		}()
	}
	return s
}

// Close stops the sync schedule and releases hanging requests.
func (s *Server) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.wg.Wait()
}

// Sync copies the middle DB to the visible attendance: only known employees
// and registered types (§4.1 rules 5, 6). It returns the number of visible records.
func (s *Server) Sync() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncs++
	for k, r := range s.middle {
		s.syncOne(k, r)
	}
	return len(s.synced)
}

func (s *Server) syncOne(k Key, r *Record) {
	if _, ok := s.employee(k.EmployeeNumber); !ok || !s.typeRegistered(r.Type) {
		return
	}
	s.synced[k] = *r
}

// Records is a copy of the middle DB.
func (s *Server) Records() map[Key]Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[Key]Record, len(s.middle))
	for k, r := range s.middle {
		out[k] = *r
	}
	return out
}

// Synced is a copy of the visible (synced) attendance.
func (s *Server) Synced() map[Key]Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[Key]Record, len(s.synced))
	for k, r := range s.synced {
		out[k] = r
	}
	return out
}

// IdenticalResends counts attnd/record sends whose content equalled the
// record already stored for that key.
func (s *Server) IdenticalResends() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.identical
}

// Calls is the number of requests received on every path (faulted ones included).
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

// CallsTo is the number of requests received on path.
func (s *Server) CallsTo(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[path]
}

// Blocked reports whether the integration is blocked (903).
func (s *Server) Blocked() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blocked
}

// SetBlocked blocks or unblocks the integration.
func (s *Server) SetBlocked(b bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked = b
	if !b {
		s.identKey = map[Key]int{}
	}
}

// SetServiceExpired switches the 904 state.
func (s *Server) SetServiceExpired(b bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.ServiceExpired = b
}

// SetRate changes the call limit (0 = unlimited).
func (s *Server) SetRate(perSecond float64, burst int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if burst <= 0 {
		burst = 1
	}
	s.opts.RatePerSecond, s.opts.Burst = perSecond, burst
	s.bucket, s.bucketAt = float64(burst), s.opts.Now()
}

// ExpireTokens makes every issued token expired (401 from now on).
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.tokens {
		s.tokens[t] = time.Time{}
	}
}

// TokensIssued is the number of tokens issued so far.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens)
}

// SetFault installs a fault (Kind FaultNone clears it).
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Path == "" {
		f.Path = PathRecord
	}
	s.fault = f
}

func (s *Server) employee(no string) (Employee, bool) {
	for _, e := range s.opts.Employees {
		if e.EmployeeNumber == no {
			return e, true
		}
	}
	return Employee{}, false
}

func (s *Server) typeRegistered(t string) bool {
	if len(s.opts.Types) == 0 || t == "" {
		return true
	}
	for _, x := range s.opts.Types {
		if x == t {
			return true
		}
	}
	return false
}

// ServeHTTP routes the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls[r.URL.Path]++
	f := s.fault
	faulted := f.Kind != FaultNone && (f.Path == "*" || f.Path == r.URL.Path)
	if faulted && f.Count > 0 {
		s.fault.Count--
		if s.fault.Count == 0 {
			s.fault = Fault{}
		}
	}
	s.mu.Unlock()
	if faulted {
		switch f.Kind {
		case Fault5xx:
			st := f.Status
			if st == 0 {
				st = http.StatusServiceUnavailable
			}
			http.Error(w, "simulated server error", st)
			return
		case FaultHang:
			// Read the body so the server watches the connection and
			// cancels r.Context() when the client gives up.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-s.stop:
			}
			return
		case FaultDrop:
			drop(w)
			return
		case FaultCode:
			s.fail(w, f.Code, "simulated", "fault switch")
			return
		case FaultDropAfter:
			s.route(httptestDiscard{}, r)
			drop(w)
			return
		}
	}
	s.route(w, r)
}

// httptestDiscard is a ResponseWriter that throws the answer away.
type httptestDiscard struct{}

func (httptestDiscard) Header() http.Header         { return http.Header{} }
func (httptestDiscard) Write(b []byte) (int, error) { return len(b), nil }
func (httptestDiscard) WriteHeader(int)             {}

func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case PathToken:
		s.handleToken(w, r)
	case PathRecord:
		s.handleRecord(w, r)
	case PathAccount:
		s.handleAccountV1(w, r)
	case PathUserV3:
		s.handleUserV3(w, r)
	case PathAttndV2:
		s.handleAttndV2(w, r)
	default:
		// ASSUMPTION: unknown paths get a plain 404.
		http.NotFound(w, r)
	}
}

func (s *Server) code(c string) any {
	if s.opts.CodeAsNumber {
		if n, err := strconv.Atoi(c); err == nil {
			return n
		}
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) ok(w http.ResponseWriter, data any) {
	writeJSON(w, http.StatusOK, map[string]any{"code": s.code(CodeOK), "message": "OK", "data": data})
}

// fail answers the failure envelope {code, message, messageDetail} (§3.1).
func (s *Server) fail(w http.ResponseWriter, code, message, detail string) {
	status := http.StatusOK
	if !s.opts.ErrorsAsHTTP200 {
		switch code {
		case CodeUnauthorized:
			status = http.StatusUnauthorized
		case CodeRestricted:
			status = http.StatusForbidden
		case CodeCallLimit:
			status = http.StatusTooManyRequests
		default:
			status = http.StatusBadRequest
		}
	}
	if code == CodeUnauthorized {
		status = http.StatusUnauthorized // integrators retry on HTTP 401 (§2.1)
	}
	writeJSON(w, status, map[string]any{"code": s.code(code), "message": message, "messageDetail": detail})
}

// allow takes one call from the rate bucket; false = 905.
func (s *Server) allow() bool {
	if s.opts.RatePerSecond <= 0 {
		return true
	}
	now := s.opts.Now()
	s.bucket += now.Sub(s.bucketAt).Seconds() * s.opts.RatePerSecond
	if max := float64(s.opts.Burst); s.bucket > max {
		s.bucket = max
	}
	s.bucketAt = now
	if s.bucket < 1 {
		return false
	}
	s.bucket--
	return true
}

// gate runs the checks every call shares, in this order (ASSUMPTION): call
// limit 905, service period 904, block 903. It answers and returns false on failure.
func (s *Server) gate(w http.ResponseWriter) bool {
	s.mu.Lock()
	allowed := s.allow()
	expired, blocked := s.opts.ServiceExpired, s.blocked
	s.mu.Unlock()
	switch {
	case !allowed:
		s.fail(w, CodeCallLimit, "API 호출 한도 초과", "call limit exceeded")
	case expired:
		s.fail(w, CodeExpired, "서비스 기간 만료", "service period expired")
	case blocked:
		s.fail(w, CodeRestricted, "서비스 이용 제한", "integration blocked after repeated identical data")
	default:
		return true
	}
	return false
}

// bearer checks Authorization: Bearer; it answers 401 and returns false when
// the token is missing, unknown or expired.
func (s *Server) bearer(w http.ResponseWriter, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(h, "bearer ")
	}
	s.mu.Lock()
	exp, known := s.tokens[tok]
	now := s.opts.Now()
	s.mu.Unlock()
	if !ok || !known || !now.Before(exp) {
		s.fail(w, CodeUnauthorized, "Unauthorized", "invalid or expired access token")
		return false
	}
	return true
}

func (s *Server) creds(w http.ResponseWriter, id, secret string) bool {
	switch {
	case id != s.opts.ClientID:
		s.fail(w, CodeBadClientID, "유효하지 않은 Client ID", "invalid clientId")
	case secret != s.opts.ClientSecret:
		s.fail(w, CodeBadSecret, "유효하지 않은 Client Secret", "invalid clientSecret")
	default:
		return true
	}
	return false
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !s.gate(w) {
		return
	}
	id, secret, ok := r.BasicAuth()
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		// ASSUMPTION: a missing grant_type is a 925 bad parameter.
		s.fail(w, CodeBadParameter, "잘못된 파라미터 형식", "grant_type must be client_credentials")
		return
	}
	if !ok {
		s.fail(w, CodeBadClientID, "유효하지 않은 Client ID", "missing HTTP Basic credentials")
		return
	}
	if !s.creds(w, id, secret) {
		return
	}
	tok := newToken()
	s.mu.Lock()
	s.tokens[tok] = s.opts.Now().Add(s.opts.TokenTTL)
	s.mu.Unlock()
	secs := int64(s.opts.TokenTTL / time.Second)
	var exp any = secs
	if s.opts.ExpiresInAsString {
		exp = strconv.FormatInt(secs, 10)
	}
	// The token API answers the bare OAuth2 fields (§2.1), no envelope.
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "bearer", "expires_in": exp, "access_token": tok})
}

func newToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256"}`))
	return hdr + "." + hex.EncodeToString(b[:])
}

// credFields are body fields that are not record content.
var credFields = map[string]bool{"clientId": true, "clientSecret": true, "productName": true, "productVersion": true, "clientCompanyName": true}

func bodyString(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	}
	return "", false
}

func (s *Server) handleRecord(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !s.gate(w) || !s.bearer(w, r) {
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	// ASSUMPTION: one record per request, fields at the top level (§4.2).
	var body map[string]any
	if err := dec.Decode(&body); err != nil {
		s.fail(w, CodeBadParameter, "잘못된 파라미터 형식", "body is not a JSON object")
		return
	}
	id, _ := bodyString(body["clientId"])
	secret, _ := bodyString(body["clientSecret"])
	if !s.creds(w, id, secret) {
		return
	}
	content := map[string]any{}
	for k, v := range body {
		if !credFields[k] {
			content[k] = v
		}
	}
	f := s.opts.Fields
	emp, ok1 := bodyString(body["employeeNumber"])
	day, ok2 := bodyString(body["workingDay"])
	in, ok3 := bodyString(body[f.ClockIn])
	out, ok4 := bodyString(body[f.ClockOut])
	typ := ""
	ok5 := true
	if f.Type != "" {
		typ, ok5 = bodyString(body[f.Type])
	}
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || emp == "" || day == "" {
		s.fail(w, CodeBadParameter, "잘못된 파라미터 형식", "employeeNumber and workingDay are required strings")
		return
	}
	if _, err := time.ParseInLocation(f.WorkingDayFormat, day, s.loc); err != nil {
		s.fail(w, CodeBadParameter, "잘못된 파라미터 형식", "workingDay format")
		return
	}
	for _, t := range []string{in, out} {
		if t == "" {
			continue
		}
		if _, err := time.ParseInLocation(f.TimeFormat, t, s.loc); err != nil {
			s.fail(w, CodeBadParameter, "잘못된 파라미터 형식", "time format")
			return
		}
	}
	if _, ok := s.employee(emp); !ok {
		s.fail(w, CodeInvalidUserID, "유효하지 않은 사용자", "unknown employeeNumber")
		return
	}
	cb, _ := json.Marshal(content) // map keys are sorted: canonical
	key := Key{emp, day}
	s.mu.Lock()
	prev, had := s.middle[key]
	if had && prev.Content == string(cb) {
		s.identical++
		s.identKey[key]++
		if s.opts.BlockAfter > 0 && s.identKey[key] >= s.opts.BlockAfter {
			s.blocked = true
			s.mu.Unlock()
			s.log.Warn("daousim: integration blocked", "employee_number", emp, "working_day", day)
			s.fail(w, CodeRestricted, "서비스 이용 제한", "integration blocked after repeated identical data")
			return
		}
	}
	rec := &Record{EmployeeNumber: emp, WorkingDay: day, ClockIn: in, ClockOut: out, Type: typ, Content: string(cb), At: s.opts.Now()}
	if had {
		rec.Writes = prev.Writes
	}
	rec.Writes++
	s.middle[key] = rec
	if s.opts.SyncOnWrite {
		s.syncOne(key, rec)
	}
	s.mu.Unlock()
	// ASSUMPTION: the success body is the envelope with the record key as data.
	s.ok(w, map[string]any{"employeeNumber": emp, "workingDay": day})
}

func (s *Server) status(e Employee) string {
	if e.Status == "" {
		return "ONLINE"
	}
	return e.Status
}

func (s *Server) handleAccountV1(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !s.gate(w) {
		return
	}
	var body struct{ ClientID, ClientSecret string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		s.fail(w, CodeBadParameter, "잘못된 파라미터 형식", "body is not a JSON object")
		return
	}
	if !s.creds(w, body.ClientID, body.ClientSecret) {
		return
	}
	rows := []map[string]any{}
	for _, e := range s.opts.Employees {
		rows = append(rows, map[string]any{
			"koName": e.Name, "loginId": e.LoginID, "employeeNumber": e.EmployeeNumber, "status": s.status(e),
			// ASSUMPTION: email is loginId@example.invalid; positionName etc. empty.
			"email": e.LoginID + "@example.invalid", "positionName": "", "mobileNo": "", "directTel": "", "joinDate": "",
		})
	}
	s.ok(w, rows)
}

func (s *Server) handleUserV3(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !s.gate(w) || !s.bearer(w, r) {
		return
	}
	rows := []map[string]any{}
	for _, e := range s.opts.Employees {
		var exp any
		if e.ExpiredDate != "" {
			exp = e.ExpiredDate
		}
		rows = append(rows, map[string]any{
			"loginId": e.LoginID, "name": e.Name, "employeeNumber": e.EmployeeNumber, "status": s.status(e),
			"expiredDate": exp, "positionName": "", "gradeName": "", "employeeType": "", "joinDate": "", "directTel": "",
			"userGroups": []any{},
		})
	}
	// ASSUMPTION: data is the array of users (v1 envelope shape, §8.2).
	s.ok(w, rows)
}

// ReadTimeFormat is the element time format of the attnd-v2 read API.
// ASSUMPTION: 'YYYY-MM-DD HH:MM:SS' (the ESD reading; AMS parses HH:MM:SS, §6).
const ReadTimeFormat = "2006-01-02 15:04:05"

func (s *Server) handleAttndV2(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !s.gate(w) || !s.bearer(w, r) {
		return
	}
	q := r.URL.Query()
	start, err1 := time.ParseInLocation("2006-01-02", q.Get("startDate"), s.loc)
	end, err2 := time.ParseInLocation("2006-01-02", q.Get("endDate"), s.loc)
	page, err3 := strconv.Atoi(q.Get("page"))
	size, err4 := strconv.Atoi(q.Get("pageSize"))
	// The AMS docstring says at most 31 days (§6).
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || page < 0 || size <= 0 || end.Before(start) || end.Sub(start) > 31*24*time.Hour {
		s.fail(w, CodeBadParameter, "잘못된 파라미터 형식", "startDate, endDate (YYYY-MM-DD, at most 31 days), page (0-based), pageSize")
		return
	}
	f := s.opts.Fields
	s.mu.Lock()
	var elems []map[string]any
	for k, rec := range s.synced {
		d, err := time.ParseInLocation(f.WorkingDayFormat, k.WorkingDay, s.loc)
		if err != nil || d.Before(start) || d.After(end) {
			continue
		}
		e, _ := s.employee(k.EmployeeNumber)
		el := map[string]any{
			"loginId": e.LoginID, "name": e.Name, "accrualDate": d.Format("2006-01-02"),
			"startWorkTime": nil, "endWorkTime": nil,
			// Seen null on a live tenant (§6).
			"dayWorkStatusCode": nil, "workGroupCode": nil, "shiftWorkPolicyCode": nil,
			"isWorkingDay": true, "sumWorkingHours": "",
		}
		if t, err := time.ParseInLocation(f.TimeFormat, rec.ClockIn, s.loc); err == nil && rec.ClockIn != "" {
			el["startWorkTime"] = t.Format(ReadTimeFormat)
		}
		if t, err := time.ParseInLocation(f.TimeFormat, rec.ClockOut, s.loc); err == nil && rec.ClockOut != "" {
			el["endWorkTime"] = t.Format(ReadTimeFormat)
		}
		elems = append(elems, el)
	}
	s.mu.Unlock()
	sort.Slice(elems, func(i, j int) bool {
		a, b := elems[i], elems[j]
		if a["accrualDate"] != b["accrualDate"] {
			return a["accrualDate"].(string) < b["accrualDate"].(string)
		}
		return a["loginId"].(string) < b["loginId"].(string)
	})
	total := len(elems)
	from := min(page*size, total)
	to := min(from+size, total)
	pages := (total + size - 1) / size
	// ASSUMPTION: the ESD pagination shape data.page.{totalCount,totalPages} (§6).
	s.ok(w, map[string]any{
		"page":     map[string]any{"totalCount": total, "totalPages": pages, "page": page, "pageSize": size},
		"elements": append([]map[string]any{}, elems[from:to]...),
	})
}

// String describes the simulator state (no secrets).
func (s *Server) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("daousim{middle=%d synced=%d identical=%d blocked=%v}", len(s.middle), len(s.synced), s.identical, s.blocked)
}
