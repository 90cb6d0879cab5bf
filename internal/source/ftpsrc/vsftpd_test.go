package ftpsrc_test

// Tests against a real vsftpd on loopback (scripts/vsftpd.sh via ftptest), each
// in plain FTP and explicit FTPS with a self-signed certificate. The server
// reports times in Asia/Seoul; the machine may be in UTC.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/source"
	"github.com/attendance-pipeline/attnd/internal/source/ftpsrc"
	"github.com/attendance-pipeline/attnd/internal/source/ftpsrc/ftptest"
	"github.com/jlaffaye/ftp"
)

var modes = []struct {
	name string
	tls  bool
}{{"plain", false}, {"ftps", true}}

type harness struct {
	t    *testing.T
	srv  *ftptest.Server
	src  *ftpsrc.Source
	logs *syncBuffer
	errs *counter
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) inc(op string) { c.mu.Lock(); c.n[op]++; c.mu.Unlock() }
func (c *counter) get(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[op]
}

// setup starts vsftpd and a source on it. mod adjusts the spec.
func setup(t *testing.T, tls bool, mod func(*source.Spec), opts ftpsrc.Options) *harness {
	t.Helper()
	srv := ftptest.StartServer(t, tls)
	return newHarness(t, srv, mod, opts)
}

func newHarness(t *testing.T, srv *ftptest.Server, mod func(*source.Spec), opts ftpsrc.Options) *harness {
	t.Helper()
	h := &harness{t: t, srv: srv, logs: &syncBuffer{}, errs: &counter{n: map[string]int{}}}
	spec := source.Spec{
		Name: "vendor-a", Type: "ftp", URL: srv.URL, PasswordEnv: "ATTND_TEST_FTP_PW",
		TLS: "none", Exclude: []string{"*.tmp"}, MinAge: time.Hour, Timeout: 10 * time.Second,
	}
	if srv.TLS {
		spec.TLS, spec.TLSCAFile = "explicit", srv.CAFile
	}
	if mod != nil {
		mod(&spec)
	}
	pw := srv.Password
	opts.LookupEnv = func(k string) (string, bool) {
		if k == "ATTND_TEST_FTP_PW" {
			return pw, true
		}
		return "", false
	}
	opts.OnError = h.errs.inc
	if opts.BackoffMin == 0 {
		opts.BackoffMin, opts.BackoffMax = 10*time.Millisecond, 50*time.Millisecond
	}
	logger := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	src, err := ftpsrc.New(context.Background(), spec, logger, opts)
	if err != nil {
		t.Fatalf("ftpsrc.New: %v", err)
	}
	h.src = src
	t.Cleanup(func() {
		_ = src.Close()
		if strings.Contains(h.logs.String(), pw) {
			t.Errorf("logs contain the FTP password:\n%s", h.logs.String())
		}
	})
	return h
}

// put writes a file in the served folder with an exact mtime.
func (h *harness) put(name, content string, mtime time.Time) string {
	h.t.Helper()
	p := filepath.Join(h.srv.Root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		h.t.Fatal(err)
	}
	return p
}

func (h *harness) list() []source.File {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fs, err := h.src.List(ctx)
	if err != nil {
		h.t.Fatalf("List: %v", err)
	}
	return fs
}

func (h *harness) ftpPath(name string) string { return filepath.Join(h.srv.Root, name) }

func names(fs []source.File) string {
	var n []string
	for _, f := range fs {
		n = append(n, filepath.Base(f.Path))
	}
	return strings.Join(n, ",")
}

func find(fs []source.File, name string) (source.File, bool) {
	for _, f := range fs {
		if filepath.Base(f.Path) == name {
			return f, true
		}
	}
	return source.File{}, false
}

func (h *harness) read(f source.File) (string, error) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc, err := h.src.Open(ctx, f)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return string(b), err
}

// old is a whole-second time far enough in the past for MinAge = 1 h.
func old(d time.Duration) time.Time { return time.Now().Add(-2*time.Hour - d).Truncate(time.Second) }

func TestListReadyFilesInSiteZone(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			h := setup(t, m.tls, nil, ftpsrc.Options{})
			mt := old(0).Add(17 * time.Second) // seconds matter: MDTM must refine the minute listing
			h.put("T_SECOM_ALARM_20240105.csv", "a,b\n1,2\n", mt)
			h.put("fresh.csv", "being written\n", time.Now())
			h.put("upload.csv.tmp", "partial\n", old(0))
			h.put(".hidden.csv", "x\n", old(0))
			h.put("sub/nested.csv", "x\n", old(0))

			if got := h.list(); len(got) != 0 {
				t.Fatalf("first poll: ready %s, want none (stability needs two polls)", names(got))
			}
			got := h.list()
			if names(got) != "T_SECOM_ALARM_20240105.csv" {
				t.Fatalf("second poll: ready %q, want only the old stable csv", names(got))
			}
			f := got[0]
			if f.Source != "vendor-a" || f.Path != h.ftpPath("T_SECOM_ALARM_20240105.csv") || f.Size != 8 {
				t.Fatalf("file = %+v", f)
			}
			if !f.ModTime.Equal(mt) {
				t.Fatalf("ModTime %v, want the real mtime %v (listing read in the site zone, refined by MDTM)", f.ModTime, mt)
			}
			if f.ModTime.Location().String() != "Asia/Seoul" {
				t.Fatalf("ModTime zone %v, want Asia/Seoul", f.ModTime.Location())
			}
			content, err := h.read(f)
			if err != nil || content != "a,b\n1,2\n" {
				t.Fatalf("read = %q, %v", content, err)
			}
		})
	}
}

// Negative control: a source configured with the wrong zone (UTC) reads the
// server's Seoul listing 9 h off, which is why spec.TZ exists.
func TestWrongZoneIsOffByTheOffset(t *testing.T) {
	h := setup(t, false, func(s *source.Spec) { s.TZ = "UTC" }, ftpsrc.Options{})
	mt := old(24 * time.Hour) // old enough even when read 9 h into the future
	h.put("a.csv", "x\n", mt)
	h.list()
	got := h.list()
	if len(got) != 1 {
		t.Fatalf("ready %q, want a.csv", names(got))
	}
	if d := got[0].ModTime.Sub(mt); d != 9*time.Hour {
		t.Fatalf("with tz UTC the ModTime is off by %v, want 9h (the server lists Seoul time)", d)
	}
}

// A file still being uploaded over FTP (STOR in progress) is not ready; once the
// upload ends and the file is old enough it is, with the full content.
func TestPartialUploadNotReadyUntilComplete(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			h := setup(t, m.tls, nil, ftpsrc.Options{})
			up := dialUploader(t, h.srv)
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			target := h.ftpPath("drop.csv")
			go func() { done <- up.Stor(target, pr) }()
			first := strings.Repeat("1001,2024-01-05 08:51:02,IN\n", 1000)
			if _, err := pw.Write([]byte(first)); err != nil {
				t.Fatalf("upload first half: %v", err)
			}
			waitSize(t, target, int64(len(first)))

			for i := 0; i < 3; i++ {
				if got := h.list(); len(got) != 0 {
					t.Fatalf("poll %d during the upload: ready %q, want none", i, names(got))
				}
			}
			second := strings.Repeat("1002,2024-01-05 18:01:00,OUT\n", 1000)
			if _, err := pw.Write([]byte(second)); err != nil {
				t.Fatalf("upload second half: %v", err)
			}
			pw.Close()
			if err := <-done; err != nil {
				t.Fatalf("STOR: %v", err)
			}
			if got := h.list(); len(got) != 0 {
				t.Fatalf("just-finished upload (mtime now, MinAge 1h): ready %q, want none", names(got))
			}
			// Time passes: the upload is now two hours old.
			mt := old(0)
			if err := os.Chtimes(target, mt, mt); err != nil {
				t.Fatal(err)
			}
			if got := h.list(); len(got) != 0 {
				t.Fatalf("first poll with the new mtime: ready %q, want none", names(got))
			}
			got := h.list()
			if len(got) != 1 || got[0].Size != int64(len(first)+len(second)) {
				t.Fatalf("ready %+v, want drop.csv with the full size %d", got, len(first)+len(second))
			}
			content, err := h.read(got[0])
			if err != nil || content != first+second {
				t.Fatalf("read %d bytes, err %v; want the full upload", len(content), err)
			}
		})
	}
}

func dialUploader(t *testing.T, srv *ftptest.Server) *ftp.ServerConn {
	t.Helper()
	opts := []ftp.DialOption{ftp.DialWithTimeout(10 * time.Second)}
	if srv.TLS {
		opts = append(opts, ftp.DialWithExplicitTLS(tlsConfig(t, srv.CAFile)))
	}
	c, err := ftp.Dial(fmt.Sprintf("127.0.0.1:%d", srv.Port), opts...)
	if err != nil {
		t.Fatalf("uploader dial: %v", err)
	}
	if err := c.Login("anonymous", srv.Password); err != nil {
		t.Fatalf("uploader login: %v", err)
	}
	t.Cleanup(func() { _ = c.Quit() })
	return c
}

func waitSize(t *testing.T, p string, n int64) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if st, err := os.Stat(p); err == nil && st.Size() >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never reached %d bytes on the server", p, n)
}

// A file that grows between polls is not taken even though its mtime is old
// (a vendor program appending and restoring the mtime, or a clock that lies).
func TestGrowingFileNotTaken(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			h := setup(t, m.tls, nil, ftpsrc.Options{})
			mt := old(0)
			content := ""
			for i := 0; i < 4; i++ {
				content += fmt.Sprintf("row %d\n", i)
				h.put("grow.csv", content, mt)
				if got := h.list(); len(got) != 0 {
					t.Fatalf("poll %d while growing: ready %q, want none", i, names(got))
				}
			}
			got := h.list()
			if len(got) != 1 || got[0].Size != int64(len(content)) {
				t.Fatalf("after growth stopped: ready %+v, want grow.csv with %d bytes", got, len(content))
			}
		})
	}
}

// Vendor programs upload NAME.tmp then rename it: excluded until renamed.
func TestRenamedAfterUpload(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			h := setup(t, m.tls, nil, ftpsrc.Options{})
			h.put("T_SECOM_ALARM_20240106.csv.tmp", "a\n", old(0))
			for i := 0; i < 2; i++ {
				if got := h.list(); len(got) != 0 {
					t.Fatalf("poll %d: ready %q, want none (.tmp excluded)", i, names(got))
				}
			}
			up := dialUploader(t, h.srv)
			if err := up.Rename(h.ftpPath("T_SECOM_ALARM_20240106.csv.tmp"), h.ftpPath("T_SECOM_ALARM_20240106.csv")); err != nil {
				t.Fatalf("rename on the server: %v", err)
			}
			if got := h.list(); len(got) != 0 {
				t.Fatalf("first poll after rename: ready %q, want none", names(got))
			}
			if got := h.list(); names(got) != "T_SECOM_ALARM_20240106.csv" {
				t.Fatalf("second poll after rename: ready %q", names(got))
			}
		})
	}
}

// The same name uploaded again with new content is listed again with the new
// size and mtime, and reads the new content; Finish with the stale listing
// refuses to touch the new upload.
func TestReuploadedChangedFile(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			h := setup(t, m.tls, func(s *source.Spec) { s.After = "delete" }, ftpsrc.Options{})
			mt1 := old(time.Hour)
			h.put("day.csv", "v1\n", mt1)
			h.list()
			got := h.list()
			if len(got) != 1 {
				t.Fatalf("ready %q, want day.csv", names(got))
			}
			first := got[0]
			if c, err := h.read(first); err != nil || c != "v1\n" {
				t.Fatalf("read v1 = %q, %v", c, err)
			}

			mt2 := old(0)
			h.put("day.csv", "version 2\n", mt2)
			err := h.src.Finish(context.Background(), first)
			if !errors.Is(err, ftpsrc.ErrChanged) {
				t.Fatalf("Finish with the stale listing: err = %v, want ErrChanged", err)
			}
			if _, err := os.Stat(h.ftpPath("day.csv")); err != nil {
				t.Fatalf("the re-upload was deleted: %v", err)
			}
			if got := h.list(); len(got) != 0 {
				t.Fatalf("first poll after re-upload: ready %q, want none", names(got))
			}
			got = h.list()
			if len(got) != 1 || got[0].Size != 10 || !got[0].ModTime.Equal(mt2) {
				t.Fatalf("second poll after re-upload: %+v, want size 10 mtime %v", got, mt2)
			}
			if c, err := h.read(got[0]); err != nil || c != "version 2\n" {
				t.Fatalf("read v2 = %q, %v", c, err)
			}
		})
	}
}

// After-actions happen only in Finish, and do what spec.After says.
func TestAfterActions(t *testing.T) {
	cases := []struct {
		after    string
		kept     bool   // still in the drop folder after Finish
		movedRel string // where it lands, relative to the served root ("" = nowhere)
	}{
		{"leave", true, ""},
		{"delete", false, ""},
		{"move:done", false, "done/a.csv"},
		{"move:archive/2024/01", false, "archive/2024/01/a.csv"},
	}
	for _, m := range modes {
		for _, c := range cases {
			t.Run(m.name+"/"+strings.ReplaceAll(c.after, "/", "_"), func(t *testing.T) {
				h := setup(t, m.tls, func(s *source.Spec) { s.After = c.after }, ftpsrc.Options{})
				local := h.put("a.csv", "x,y\n", old(0))
				h.list()
				got := h.list()
				if len(got) != 1 {
					t.Fatalf("ready %q, want a.csv", names(got))
				}
				if _, err := h.read(got[0]); err != nil {
					t.Fatalf("read: %v", err)
				}
				h.list() // more polls do not act either
				if _, err := os.Stat(local); err != nil {
					t.Fatalf("file gone before Finish: %v", err)
				}
				if err := h.src.Finish(context.Background(), got[0]); err != nil {
					t.Fatalf("Finish: %v", err)
				}
				_, err := os.Stat(local)
				if kept := err == nil; kept != c.kept {
					t.Fatalf("after Finish(%s): still in the drop folder = %v, want %v", c.after, kept, c.kept)
				}
				if c.movedRel != "" {
					b, err := os.ReadFile(filepath.Join(h.srv.Root, c.movedRel))
					if err != nil || string(b) != "x,y\n" {
						t.Fatalf("moved file %s: %q, %v", c.movedRel, b, err)
					}
					if got := h.list(); len(got) != 0 {
						t.Fatalf("moved file listed again: %q", names(got))
					}
				}
			})
		}
	}
}

// Moving a second file of the same name keeps the first done file.
func TestMoveKeepsEarlierDoneFile(t *testing.T) {
	h := setup(t, false, func(s *source.Spec) { s.After = "move:done" }, ftpsrc.Options{})
	for i, content := range []string{"first\n", "second run\n"} {
		h.put("a.csv", content, old(time.Duration(i)*time.Minute))
		h.list()
		got := h.list()
		if len(got) != 1 {
			t.Fatalf("round %d: ready %q", i, names(got))
		}
		if err := h.src.Finish(context.Background(), got[0]); err != nil {
			t.Fatalf("round %d: Finish: %v", i, err)
		}
	}
	ents, err := os.ReadDir(filepath.Join(h.srv.Root, "done"))
	if err != nil || len(ents) != 2 {
		t.Fatalf("done folder: %v, %v; want both files", ents, err)
	}
}

// The server restarts (every connection dropped) between polls and while the
// source is idle; the source redials and goes on. While it is down,
// operations fail (counted), and succeed again once it is back.
func TestReconnectAfterServerRestart(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			h := setup(t, m.tls, nil, ftpsrc.Options{Attempts: 2})
			h.put("a.csv", "x\n", old(0))
			h.list()
			pid := h.srv.PID()

			h.srv.Restart(t) // drops the pooled control connection
			if h.srv.PID() == pid {
				t.Fatalf("vsftpd was not restarted (same pid %d)", pid)
			}
			got := h.list()
			if names(got) != "a.csv" {
				t.Fatalf("poll after restart: ready %q, want a.csv (state kept, connection redialled)", names(got))
			}
			if h.errs.get("list") < 1 {
				t.Fatalf("the stale connection's failure was not counted: %v", h.errs.n)
			}

			h.srv.Stop(t)
			ctx := context.Background()
			if _, err := h.src.List(ctx); err == nil {
				t.Fatal("List with the server down: want an error")
			}
			if err := h.src.Ping(ctx); err == nil {
				t.Fatal("Ping with the server down: want an error")
			}
			if h.errs.get("dial") < 2 {
				t.Fatalf("dial failures not counted: %v", h.errs.n)
			}
			h.srv.Restart(t)
			if err := h.src.Ping(ctx); err != nil {
				t.Fatalf("Ping after the server came back: %v", err)
			}
			if got := h.list(); names(got) != "a.csv" {
				t.Fatalf("poll after the server came back: %q", names(got))
			}
		})
	}
}

// A transfer cut by the server going away is an error, never a short file
// passed off as complete; the next Open reads the whole file.
func TestTransferCutMidway(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			h := setup(t, m.tls, nil, ftpsrc.Options{})
			big := strings.Repeat("1001,2024-01-05 08:51:02,IN,front door\n", 1<<18) // ~10 MB
			h.put("big.csv", big, old(0))
			h.list()
			got := h.list()
			if len(got) != 1 {
				t.Fatalf("ready %q", names(got))
			}
			rc, err := h.src.Open(context.Background(), got[0])
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			buf := make([]byte, 64<<10)
			if _, err := io.ReadFull(rc, buf); err != nil {
				t.Fatalf("first read: %v", err)
			}
			h.srv.Stop(t)
			rest, err := io.ReadAll(rc)
			if err == nil {
				t.Fatalf("read after the server died: %d more bytes and no error; a cut transfer must fail", len(rest))
			}
			_ = rc.Close()
			if h.errs.get("read") != 1 {
				t.Fatalf("OnError(read) = %d, want 1", h.errs.get("read"))
			}
			h.srv.Restart(t)
			content, err := h.read(got[0])
			if err != nil || content != big {
				t.Fatalf("re-read after restart: %d bytes, %v; want %d", len(content), err, len(big))
			}
		})
	}
}

func TestOpenDetectsSizeChange(t *testing.T) {
	h := setup(t, false, nil, ftpsrc.Options{})
	h.put("a.csv", "abc\n", old(0))
	h.list()
	got := h.list()
	if len(got) != 1 {
		t.Fatalf("ready %q", names(got))
	}
	h.put("a.csv", "abcdef\n", old(0))
	_, err := h.read(got[0])
	if !errors.Is(err, ftpsrc.ErrChanged) {
		t.Fatalf("read of a file that changed size: err = %v, want ErrChanged", err)
	}
}

func TestWrongPasswordIsNotLeaked(t *testing.T) {
	srv := ftptest.StartServer(t, false)
	good := srv.Password
	srv.Password = "wrong-" + good
	h := newHarness(t, srv, nil, ftpsrc.Options{Attempts: 1})
	err := h.src.Ping(context.Background())
	if err == nil {
		t.Fatal("Ping with a wrong password: want an error")
	}
	if strings.Contains(err.Error(), srv.Password) || strings.Contains(h.logs.String(), srv.Password) {
		t.Fatalf("password leaked: err=%q logs=%q", err, h.logs.String())
	}
	if !strings.Contains(err.Error(), "login") {
		t.Fatalf("error should say the login failed: %v", err)
	}
}

func tlsConfig(t *testing.T, caFile string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", caFile)
	}
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

// vsftpd's default require_ssl_reuse=YES refuses data connections that do not
// resume the control connection's TLS session (522); the source's session
// cache makes them resume.
func TestFTPSWithRequiredSessionReuse(t *testing.T) {
	t.Setenv("VSFTPD_REQUIRE_SSL_REUSE", "YES")
	h := setup(t, true, nil, ftpsrc.Options{})
	conf, err := os.ReadFile(filepath.Join(h.srv.Dir, "vsftpd.conf"))
	if err != nil || !strings.Contains(string(conf), "require_ssl_reuse=YES") {
		t.Fatalf("setup: vsftpd.conf does not require TLS session reuse (%v)", err)
	}
	h.put("a.csv", "x\n", old(0))
	h.list()
	got := h.list()
	if names(got) != "a.csv" {
		t.Fatalf("ready %q, want a.csv", names(got))
	}
	if c, err := h.read(got[0]); err != nil || c != "x\n" {
		t.Fatalf("read = %q, %v", c, err)
	}
}
