// Package ftpsrc is the FTP/FTPS drop source: vendor programs on Windows PCs
// upload attendance exports to an FTP server, and this package lists the ones
// that are completely uploaded, streams them, and applies the after-action.
//
// Guarantees:
//   - A file is listed only when it is ready: its name matches the include
//     globs and none of the exclude globs (hidden names are never drops), its
//     size and mtime held still across two List calls, and its mtime is at
//     least MinAge old (or, against clock or zone skew on the server, it has
//     been seen unchanged for Options.StableFallback).
//   - Listing times are read in the site's zone (spec.TZ, default Asia/Seoul):
//     LIST times as the site's local time, MLSD times as UTC (RFC 3659).
//     Coarse LIST times (minute precision) are refined with MDTM, whose zone
//     (UTC per RFC 3659, or local like vsftpd with use_localtime) is recognised
//     by agreement with the listing. File.ModTime is in the site's zone.
//   - Every network read and write has a deadline (spec.Timeout, default 30 s)
//     and is aborted when the operation's context ends: a stalled server makes
//     an operation fail, never hang.
//   - A connection that saw any error is discarded, never reused; the next
//     attempt redials with exponential backoff and jitter. If an EPSV data
//     connection cannot be opened the source switches to PASV for good.
//   - Each connection is used by one operation at a time (the FTP client is not
//     safe for concurrent use and has one data connection): the Source keeps a
//     small pool (Workers+1 connections); an open reader holds its connection
//     until it is closed. The Source itself is safe for concurrent use.
//   - Open streams the file and reports ErrChanged at EOF if the byte count is
//     not the listed size. Finish applies spec.After (leave | move:DIR |
//     delete) and refuses (ErrChanged) when the file on the server is no longer
//     the one listed (re-uploaded meanwhile). Nothing is moved or deleted
//     anywhere else.
//   - The password (from the environment variable spec.PasswordEnv) never
//     appears in logs or errors.
package ftpsrc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/attendance-pipeline/attnd/internal/source"
)

// Defaults for spec fields left zero.
const (
	DefaultTimeout = 30 * time.Second
	DefaultMinAge  = 30 * time.Second
	DefaultTZ      = "Asia/Seoul"
)

// ErrChanged reports that a file on the server is not the one listed: it was
// re-uploaded or is still growing. The ingest should drop what it read and
// pick the file up again from a later List.
var ErrChanged = errors.New("file changed on the server since it was listed")

// Options are the optional knobs of New; the zero value is the default.
type Options struct {
	// OnError is called once per failed FTP attempt with the operation name
	// ("dial", "list", "mdtm", "retr", "read", "move", "delete", "noop", ...),
	// e.g. to count errors in Prometheus. It must be cheap and non-blocking.
	OnError func(op string)
	// Attempts is how many times an operation is tried before its error is
	// returned (default 3). A failure on a pooled connection that had gone
	// stale, or an EPSV fallback, does not wait; other retries wait for the
	// backoff.
	Attempts int
	// BackoffMin and BackoffMax bound the redial backoff after consecutive
	// failures (defaults 500 ms and 30 s); each delay is jittered to 50-100 %.
	BackoffMin, BackoffMax time.Duration
	// StableFallback makes a file ready once it has been seen unchanged for
	// this long even if its mtime looks younger than MinAge (a server clock or
	// zone that is off). Default 10 minutes; negative disables it.
	StableFallback time.Duration
	// MaxConns caps the connection pool (default spec.Workers+1, at least 2).
	MaxConns int
	// MaxIdle is how long a pooled connection may sit unused before it is
	// closed instead of reused (default 60 s; servers drop idle sessions).
	MaxIdle time.Duration
	// LookupEnv reads the password variable (default os.LookupEnv).
	LookupEnv func(string) (string, bool)
	// Now is the clock for ages (default time.Now).
	Now func() time.Time
}

// Source is an FTP drop location. See the package doc for its guarantees.
type Source struct {
	name     string
	addr     string // host:port
	user     string
	password string
	dir      string // absolute server path of the drop folder
	safeURL  string // URL without password, for logs
	tlsConf  *tls.Config
	loc      *time.Location
	include  []string
	exclude  []string
	after    after
	minAge   time.Duration
	timeout  time.Duration
	log      *slog.Logger
	opts     Options

	epsvOff atomic.Bool
	slots   chan struct{} // one token per connection that may exist

	mu        sync.Mutex
	idle      []*session
	closed    bool
	failures  int       // consecutive failures, for the backoff
	nextDial  time.Time // no dial before this
	track     *tracker
	dirExists map[string]bool // move targets known to exist
}

type after struct {
	kind string // leave | move | delete
	dir  string // absolute server path, for move
}

// New checks spec and builds the source. It does not connect: the first List,
// Open, Finish or Ping does, so a server that is down at start shows up in
// Ping (readiness) rather than failing the ingest's start. At most one
// Options may be given.
func New(ctx context.Context, spec source.Spec, logger *slog.Logger, opts ...Options) (*Source, error) {
	if len(opts) > 1 {
		return nil, errors.New("ftpsrc: at most one Options")
	}
	var o Options
	if len(opts) == 1 {
		o = opts[0]
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	name := spec.Name
	if name == "" {
		name = "ftp"
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("ftpsrc %s: "+format, append([]any{name}, args...)...)
	}
	if err := ctx.Err(); err != nil {
		return nil, fail("%w", err)
	}

	u, err := url.Parse(spec.URL)
	if err != nil {
		// url errors quote the whole URL, which may hold a password: do not wrap.
		return nil, fail("url is not a valid URL (ftp://user@host:21/path)")
	}
	if u.Scheme != "ftp" && u.Scheme != "ftps" {
		return nil, fail("url scheme %q: want ftp", u.Scheme)
	}
	if _, has := u.User.Password(); has {
		return nil, fail("url %s carries a password: put it in the environment variable named by password_env", u.Redacted())
	}
	if u.Hostname() == "" {
		return nil, fail("url %s has no host", u.Redacted())
	}
	port := u.Port()
	if port == "" {
		port = "21"
	}
	user := "anonymous"
	if u.User != nil && u.User.Username() != "" {
		user = u.User.Username()
	}

	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	password := ""
	if spec.PasswordEnv != "" {
		pw, ok := o.LookupEnv(spec.PasswordEnv)
		if !ok {
			return nil, fail("password variable %s is not set", spec.PasswordEnv)
		}
		password = pw
	}

	dir := spec.Path
	if dir == "" {
		dir = u.Path
	}
	if dir == "" {
		dir = "/"
	}
	if !strings.HasPrefix(dir, "/") {
		dir = "/" + dir
	}
	dir = path.Clean(dir)

	s := &Source{
		name:      name,
		addr:      net.JoinHostPort(u.Hostname(), port),
		user:      user,
		password:  password,
		dir:       dir,
		safeURL:   (&url.URL{Scheme: "ftp", User: url.User(user), Host: net.JoinHostPort(u.Hostname(), port), Path: dir}).String(),
		include:   spec.Include,
		exclude:   spec.Exclude,
		minAge:    spec.MinAge,
		timeout:   spec.Timeout,
		log:       logger.With("source", name),
		dirExists: map[string]bool{},
	}

	switch strings.ToLower(spec.TLS) {
	case "", "none":
		if spec.TLSCAFile != "" || spec.TLSInsecure {
			return nil, fail("tls_ca_file / tls_insecure_skip_verify need tls: explicit")
		}
	case "explicit":
		conf := &tls.Config{
			ServerName:         u.Hostname(),
			InsecureSkipVerify: spec.TLSInsecure,
			MinVersion:         tls.VersionTLS12,
			// Servers that want data connections to reuse the control
			// connection's TLS session get it where the server allows tickets.
			ClientSessionCache: tls.NewLRUClientSessionCache(16),
		}
		if spec.TLSCAFile != "" {
			pem, err := os.ReadFile(spec.TLSCAFile)
			if err != nil {
				return nil, fail("read tls_ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fail("tls_ca_file %s holds no PEM certificate", spec.TLSCAFile)
			}
			conf.RootCAs = pool
		}
		s.tlsConf = conf
	default:
		return nil, fail("tls %q: want explicit or none", spec.TLS)
	}

	tz := spec.TZ
	if tz == "" {
		tz = DefaultTZ
	}
	if s.loc, err = time.LoadLocation(tz); err != nil {
		return nil, fail("tz: %w", err)
	}
	for _, g := range append(append([]string{}, spec.Include...), spec.Exclude...) {
		if _, err := path.Match(g, ""); err != nil {
			return nil, fail("glob %q: %w", g, err)
		}
	}
	if s.after, err = parseAfter(spec.After, dir); err != nil {
		return nil, fail("after: %w", err)
	}
	if s.minAge == 0 {
		s.minAge = DefaultMinAge
	}
	if s.minAge < 0 {
		return nil, fail("min_age %v is negative", s.minAge)
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	if s.timeout < 0 {
		return nil, fail("timeout %v is negative", s.timeout)
	}

	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 500 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 30 * time.Second
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = o.BackoffMin
	}
	if o.StableFallback == 0 {
		o.StableFallback = 10 * time.Minute
	}
	if o.MaxConns <= 0 {
		o.MaxConns = max(spec.Workers, 1) + 1
	}
	if o.MaxIdle <= 0 {
		o.MaxIdle = 60 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OnError == nil {
		o.OnError = func(string) {}
	}
	s.opts = o
	s.slots = make(chan struct{}, o.MaxConns)
	s.track = newTracker(s.minAge, o.StableFallback)
	s.log.Debug("ftp source configured", "url", s.safeURL, "tls", s.tlsConf != nil, "tz", tz, "min_age", s.minAge, "timeout", s.timeout)
	return s, nil
}

func parseAfter(v, dir string) (after, error) {
	switch {
	case v == "" || v == "leave":
		return after{kind: "leave"}, nil
	case v == "delete":
		return after{kind: "delete"}, nil
	case strings.HasPrefix(v, "move:") && strings.TrimSpace(v[len("move:"):]) != "":
		d := strings.TrimSpace(v[len("move:"):])
		if !strings.HasPrefix(d, "/") {
			d = path.Join(dir, d) // relative to the drop folder
		}
		d = path.Clean(d)
		if d == dir {
			return after{}, fmt.Errorf("move target %s is the drop folder itself", d)
		}
		return after{kind: "move", dir: d}, nil
	}
	return after{}, fmt.Errorf("%q is not leave, delete or move:DIR", v)
}

// Name returns the source name.
func (s *Source) Name() string { return s.name }

// Dir returns the server path of the drop folder.
func (s *Source) Dir() string { return s.dir }

// Notify returns nil: the FTP source only polls.
func (s *Source) Notify() <-chan struct{} { return nil }

// Close quits the idle connections; connections held by open readers are
// closed when those readers are closed.
func (s *Source) Close() error {
	s.mu.Lock()
	s.closed = true
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, ss := range idle {
		ss.quit()
	}
	return nil
}
