package ftpsrc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/textproto"
	"sync"
	"time"

	"github.com/jlaffaye/ftp"
)

// deadlineConn puts a deadline on every Read and Write (the FTP library sets
// none on the control connection) and aborts at once when the bound
// operation's context ends.
type deadlineConn struct {
	net.Conn
	timeout time.Duration

	mu  sync.Mutex
	ctx context.Context // the operation using the connection; nil between operations
}

var pastDeadline = time.Unix(1, 0)

func (d *deadlineConn) arm(set func(time.Time) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	dl := time.Now().Add(d.timeout)
	if d.ctx != nil {
		if err := d.ctx.Err(); err != nil {
			return err
		}
		if cdl, ok := d.ctx.Deadline(); ok && cdl.Before(dl) {
			dl = cdl
		}
	}
	return set(dl)
}

func (d *deadlineConn) explain(err error) error {
	d.mu.Lock()
	ctx := d.ctx
	d.mu.Unlock()
	if err != nil && ctx != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return err
}

func (d *deadlineConn) Read(p []byte) (int, error) {
	if err := d.arm(d.Conn.SetReadDeadline); err != nil {
		return 0, err
	}
	n, err := d.Conn.Read(p)
	return n, d.explain(err)
}

func (d *deadlineConn) Write(p []byte) (int, error) {
	if err := d.arm(d.Conn.SetWriteDeadline); err != nil {
		return 0, err
	}
	n, err := d.Conn.Write(p)
	return n, d.explain(err)
}

func (d *deadlineConn) bind(ctx context.Context) {
	d.mu.Lock()
	d.ctx = ctx
	d.mu.Unlock()
}

// abort makes the pending and next Read/Write fail (the context ended).
func (d *deadlineConn) abort() {
	d.mu.Lock()
	_ = d.Conn.SetDeadline(pastDeadline)
	d.mu.Unlock()
}

// session is one logged-in FTP connection with its network connections
// (control and the current data connection).
type session struct {
	c         *ftp.ServerConn
	reused    bool      // came from the idle pool
	idleSince time.Time // when it went back to the pool

	mu       sync.Mutex
	ctx      context.Context
	conns    []*deadlineConn
	dataOK   bool // a data connection was opened on this session
	epsv     bool // dialled with EPSV enabled
	epsvFail bool // the first data connection failed while EPSV was on
}

// bind attaches ctx to the session's connections until the returned func is
// called: reads and writes fail when ctx ends.
func (ss *session) bind(ctx context.Context) (unbind func()) {
	ss.mu.Lock()
	ss.ctx = ctx
	conns := append([]*deadlineConn(nil), ss.conns...)
	ss.mu.Unlock()
	for _, d := range conns {
		d.bind(ctx)
	}
	stop := context.AfterFunc(ctx, func() {
		ss.mu.Lock()
		conns := append([]*deadlineConn(nil), ss.conns...)
		ss.mu.Unlock()
		for _, d := range conns {
			d.abort()
		}
	})
	return func() {
		stop()
		ss.mu.Lock()
		ss.ctx = nil
		conns := append([]*deadlineConn(nil), ss.conns...)
		ss.mu.Unlock()
		for _, d := range conns {
			d.bind(nil)
		}
	}
}

func (ss *session) opCtx() context.Context {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.ctx == nil {
		return context.Background()
	}
	return ss.ctx
}

// closeNet closes every network connection without talking to the server
// (used for broken sessions: QUIT on a broken connection can hang or panic).
func (ss *session) closeNet() {
	ss.mu.Lock()
	conns := ss.conns
	ss.conns = nil
	ss.mu.Unlock()
	for _, d := range conns {
		_ = d.Conn.Close()
	}
}

// quit says goodbye on a healthy session, bounded by the connection deadline.
func (ss *session) quit() {
	if ss.c != nil {
		_ = ss.c.Quit()
	}
	ss.closeNet()
}

// dialSession connects and logs in. ctx bounds the whole dial.
func (s *Source) dialSession(ctx context.Context) (*session, error) {
	ss := &session{epsv: !s.epsvOff.Load()}
	unbind := ss.bind(ctx)
	defer unbind()

	dialFunc := func(network, addr string) (net.Conn, error) {
		ss.mu.Lock()
		control := len(ss.conns) == 0
		ss.mu.Unlock()
		dctx := ss.opCtx()
		nd := net.Dialer{Timeout: s.timeout}
		raw, err := nd.DialContext(dctx, network, addr)
		if err != nil {
			if !control {
				ss.mu.Lock()
				if ss.epsv && !ss.dataOK && !s.epsvOff.Load() {
					ss.epsvFail = true
				}
				ss.mu.Unlock()
			}
			return nil, err
		}
		d := &deadlineConn{Conn: raw, timeout: s.timeout}
		d.bind(dctx)
		ss.mu.Lock()
		// Forget closed data connections: keep the control and the new one.
		if !control && len(ss.conns) > 1 {
			ss.conns = ss.conns[:1]
		}
		ss.conns = append(ss.conns, d)
		if !control {
			ss.dataOK = true
		}
		ss.mu.Unlock()
		if !control && s.tlsConf != nil {
			// With a custom dial func the library does not wrap data
			// connections in TLS itself (it does for the control one).
			return tls.Client(d, s.tlsConf), nil
		}
		return d, nil
	}

	options := []ftp.DialOption{
		ftp.DialWithDialFunc(dialFunc),
		ftp.DialWithLocation(s.loc),
		ftp.DialWithDisabledEPSV(!ss.epsv),
		ftp.DialWithContext(ctx),
	}
	if s.tlsConf != nil {
		options = append(options, ftp.DialWithExplicitTLS(s.tlsConf))
	}
	c, err := ftp.Dial(s.addr, options...)
	if err != nil {
		ss.closeNet()
		return nil, fmt.Errorf("connect %s: %w", s.addr, err)
	}
	ss.c = c
	if err := c.Login(s.user, s.password); err != nil {
		ss.closeNet()
		return nil, fmt.Errorf("login as %s on %s: %w", s.user, s.addr, err)
	}
	return ss, nil
}

var errClosed = errors.New("source is closed")

// acquire takes a connection slot and returns a pooled session or dials one,
// waiting out the backoff first.
func (s *Source) acquire(ctx context.Context) (*session, error) {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.slots
		return nil, errClosed
	}
	var expired []*session
	for len(s.idle) > 0 {
		n := len(s.idle)
		ss := s.idle[n-1]
		s.idle = s.idle[:n-1]
		if time.Since(ss.idleSince) > s.opts.MaxIdle {
			// Servers drop idle sessions (vsftpd after 300 s, IIS after
			// 120 s): do not spend an error on finding out.
			expired = append(expired, ss)
			continue
		}
		s.mu.Unlock()
		for _, e := range expired {
			e.closeNet()
		}
		ss.reused = true
		return ss, nil
	}
	wait := time.Until(s.nextDial)
	s.mu.Unlock()
	for _, e := range expired {
		e.closeNet()
	}

	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			<-s.slots
			return nil, ctx.Err()
		}
	}
	ss, err := s.dialSession(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.noteFailure()
			s.opts.OnError("dial")
		}
		<-s.slots
		return nil, err
	}
	return ss, nil
}

// release returns a healthy session to the pool, or discards it.
func (s *Source) release(ss *session, healthy bool) {
	s.mu.Lock()
	keep := healthy && !s.closed
	if keep {
		ss.reused = false
		ss.idleSince = time.Now()
		s.idle = append(s.idle, ss)
	}
	s.mu.Unlock()
	if !keep {
		if healthy {
			ss.quit()
		} else {
			ss.closeNet()
		}
	}
	<-s.slots
}

// dropIdle discards pooled sessions (after one of them turned out stale,
// the others, as old, probably are too).
func (s *Source) dropIdle() {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, ss := range idle {
		ss.closeNet()
	}
}

func (s *Source) noteFailure() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures++
	s.nextDial = time.Now().Add(backoff(s.failures, s.opts.BackoffMin, s.opts.BackoffMax, rand.N[time.Duration]))
}

// backoff is the wait before the next dial after n consecutive failures:
// lo·2^(n-1) capped at hi, jittered to 50-100 % by randN (rand.N).
func backoff(n int, lo, hi time.Duration, randN func(time.Duration) time.Duration) time.Duration {
	d := lo << min(max(n-1, 0), 30)
	if d <= 0 || d > hi {
		d = hi
	}
	return d/2 + randN(d/2+1)
}

func (s *Source) noteSuccess() {
	s.mu.Lock()
	s.failures = 0
	s.nextDial = time.Time{}
	s.mu.Unlock()
}

// permanent reports a server reply that another attempt will not change
// (5xx: no such file, permission denied, ...; or ErrChanged).
func permanent(err error) bool {
	if errors.Is(err, ErrChanged) {
		return true
	}
	var te *textproto.Error
	return errors.As(err, &te) && te.Code >= 500 && te.Code < 600
}

// run runs fn on a session, retrying on a fresh connection up to Attempts
// times. On success the session is returned still held (the caller releases
// it, or keeps it for a reader). Any error discards the session.
func (s *Source) run(ctx context.Context, op string, fn func(*session) error) (*session, error) {
	var last error
	for attempt := 1; attempt <= s.opts.Attempts; attempt++ {
		if err := ctx.Err(); err != nil {
			if last == nil {
				last = err
			}
			break
		}
		ss, err := s.acquire(ctx)
		if err != nil {
			if errors.Is(err, errClosed) {
				return nil, err
			}
			last = err
			s.log.Warn("ftp connect failed", "op", op, "attempt", attempt, "url", s.safeURL, "err", err)
			continue
		}
		unbind := ss.bind(ctx)
		err = fn(ss)
		unbind()
		if err == nil {
			s.noteSuccess()
			return ss, nil
		}
		last = err
		s.release(ss, false)
		if ctx.Err() != nil {
			break // the caller gave up: not a server error, no backoff
		}
		s.opts.OnError(op)
		ss.mu.Lock()
		epsvFail := ss.epsvFail
		ss.mu.Unlock()
		switch {
		case epsvFail && s.epsvOff.CompareAndSwap(false, true):
			s.log.Warn("ftp EPSV data connection failed; using PASV from now on", "url", s.safeURL, "err", err)
		case permanent(err):
			return nil, err
		case ss.reused:
			s.dropIdle() // stale pooled connection: retry at once on a fresh one
		default:
			s.noteFailure()
		}
		s.log.Warn("ftp operation failed", "op", op, "attempt", attempt, "url", s.safeURL, "err", err)
	}
	return nil, last
}
