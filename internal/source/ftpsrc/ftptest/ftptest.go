// Package ftptest starts a real vsftpd on loopback for tests, through
// scripts/vsftpd.sh, in a t.TempDir(), and stops it (by PID) in t.Cleanup.
//
// The server accepts anonymous logins with the generated password only, with
// write access (upload, mkdir, rename, delete), runs as the launching user
// without chroot (so the FTP path of Root is its absolute local path), and
// reports listing and MDTM times in Asia/Seoul (TZ=Asia/Seoul,
// use_localtime=YES) whatever the machine's zone. With tls, explicit FTPS
// (AUTH TLS) is required for logins and data, with a self-signed certificate
// for 127.0.0.1 (CAFile).
//
// A test that needs vsftpd fails (never skips) with a message naming the
// setup step when vsftpd is missing.
package ftptest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Server is a running vsftpd.
type Server struct {
	URL      string // ftp://anonymous@127.0.0.1:PORT/ROOT (no password)
	Root     string // local folder served; FTP path = Root
	Password string // the only password accepted
	Dir      string // state folder: vsftpd.conf, vsftpd.pid, vsftpd.log, cert.pem
	CAFile   string // the self-signed certificate (tls only)
	Port     int
	TLS      bool
	script   string
}

// Start runs vsftpd and returns its URL (without password), served root and
// password. See StartServer for the handle (restart, stop, PID).
func Start(t testing.TB, tls bool) (url string, root string, password string) {
	t.Helper()
	s := StartServer(t, tls)
	return s.URL, s.Root, s.Password
}

// StartServer runs vsftpd on a free loopback port and registers its stop.
func StartServer(t testing.TB, tls bool) *Server {
	t.Helper()
	if _, err := exec.LookPath("vsftpd"); err != nil {
		if _, err := os.Stat("/usr/sbin/vsftpd"); err != nil {
			t.Fatalf("ftptest: vsftpd is not installed: run make setup (scripts/setup-vsftpd.sh installs vsftpd and openssl)")
		}
	}
	if tls {
		if _, err := exec.LookPath("openssl"); err != nil {
			t.Fatalf("ftptest: openssl is not installed: run make setup (scripts/setup-vsftpd.sh)")
		}
	}
	script, err := findScript()
	if err != nil {
		t.Fatalf("ftptest: %v", err)
	}
	s := &Server{Dir: t.TempDir(), TLS: tls, script: script}
	var lastErr error
	for try := 0; try < 3; try++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("ftptest: pick a port: %v", err)
		}
		s.Port = port
		if lastErr = s.run("start"); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("ftptest: start vsftpd (scripts/vsftpd.sh start): %v", lastErr)
	}
	t.Cleanup(func() {
		if err := s.run("stop"); err != nil {
			t.Errorf("ftptest: stop vsftpd: %v", err)
		}
	})
	pw, err := os.ReadFile(filepath.Join(s.Dir, "password"))
	if err != nil {
		t.Fatalf("ftptest: read generated password: %v", err)
	}
	s.Password = strings.TrimSpace(string(pw))
	s.Root = filepath.Join(s.Dir, "root")
	if tls {
		s.CAFile = filepath.Join(s.Dir, "cert.pem")
	}
	u := url.URL{Scheme: "ftp", User: url.User("anonymous"), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)), Path: s.Root}
	s.URL = u.String()
	return s
}

// PID is the vsftpd listener's PID (0 when stopped).
func (s *Server) PID() int {
	b, err := os.ReadFile(filepath.Join(s.Dir, "vsftpd.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// Stop kills vsftpd and its sessions (dropping every client connection).
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.run("stop"); err != nil {
		t.Fatalf("ftptest: stop vsftpd: %v", err)
	}
}

// Restart stops vsftpd and starts it again on the same port, root, password
// and certificate.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop(t)
	var err error
	for try := 0; try < 20; try++ { // the port may linger briefly
		if err = s.run("start"); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("ftptest: restart vsftpd on port %d: %v", s.Port, err)
}

func (s *Server) run(cmd string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := []string{s.script, cmd, s.Dir, strconv.Itoa(s.Port)}
	if s.TLS {
		args = append(args, "tls")
	}
	out, err := exec.CommandContext(ctx, "bash", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", filepath.Base(s.script), cmd, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// findScript finds scripts/vsftpd.sh in the module root above the working
// directory (go test runs in the package folder).
func findScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "scripts", "vsftpd.sh")
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("scripts/vsftpd.sh not found in module root %s", dir)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory; cannot find scripts/vsftpd.sh")
		}
		dir = parent
	}
}
