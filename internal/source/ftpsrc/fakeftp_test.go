package ftpsrc

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeFTP is a tiny scripted FTP server for the cases a real vsftpd cannot
// play: a server that never answers, a data connection that stalls, an EPSV
// that advertises a port nobody serves.
type fakeFTP struct {
	t       *testing.T
	l       net.Listener
	silent  bool   // accept and never say anything
	stall   bool   // RETR: send 150, then no data ever
	badEPSV bool   // EPSV replies with a closed port
	noDir   bool   // CWD fails (the drop folder does not exist)
	mlsd    string // if set, MLST is advertised and MLSD sends this
	listing string // LIST payload
	content string // RETR payload

	acceptN  atomic.Int64
	mu       sync.Mutex
	sessions [][]string // commands per control connection (PASS argument redacted)
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startFake(t *testing.T, f *fakeFTP) *fakeFTP {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fake ftp: listen: %v", err)
	}
	f.t, f.l, f.stop = t, l, make(chan struct{})
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			f.acceptN.Add(1)
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		close(f.stop)
		_ = l.Close()
		f.wg.Wait()
	})
	return f
}

func (f *fakeFTP) accepted() int64 { return f.acceptN.Load() }

func (f *fakeFTP) addr() string { return f.l.Addr().String() }

func (f *fakeFTP) commands() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([][]string, len(f.sessions))
	for i, s := range f.sessions {
		out[i] = append([]string(nil), s...)
	}
	return out
}

func closedPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fake ftp: listen: %v", err)
	}
	p := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return p
}

func (f *fakeFTP) serve(c net.Conn) {
	go func() { <-f.stop; _ = c.Close() }()
	defer c.Close()
	if f.silent {
		<-f.stop
		return
	}
	f.mu.Lock()
	f.sessions = append(f.sessions, nil)
	idx := len(f.sessions) - 1
	f.mu.Unlock()
	say := func(format string, args ...any) { fmt.Fprintf(c, format+"\r\n", args...) }
	say("220 fake ftp")
	var data net.Listener
	defer func() {
		if data != nil {
			data.Close()
		}
	}()
	sendData := func(payload string) {
		if data == nil {
			say("425 use PASV first")
			return
		}
		say("150 here it comes")
		dc, err := data.Accept()
		data.Close()
		data = nil
		if err != nil {
			say("425 no data connection")
			return
		}
		if f.stall && payload == f.content {
			<-f.stop
			dc.Close()
			return
		}
		_, _ = dc.Write([]byte(payload))
		dc.Close()
		say("226 done")
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		rec := line
		if verb == "PASS" {
			rec = "PASS <redacted>"
		}
		f.mu.Lock()
		f.sessions[idx] = append(f.sessions[idx], rec)
		f.mu.Unlock()
		switch verb {
		case "USER":
			say("331 password please")
		case "PASS":
			say("230 welcome")
		case "FEAT":
			if f.mlsd != "" {
				say("211-Features:\r\n EPSV\r\n PASV\r\n SIZE\r\n MLST type*;size*;modify*;\r\n211 End")
			} else {
				say("211-Features:\r\n EPSV\r\n PASV\r\n SIZE\r\n211 End")
			}
		case "TYPE", "NOOP":
			say("200 ok")
		case "CWD":
			if f.noDir {
				say("550 Failed to change directory.")
			} else {
				say("250 Directory successfully changed.")
			}
		case "EPSV":
			if f.badEPSV {
				say("229 Entering Extended Passive Mode (|||%d|)", closedPort(f.t))
				continue
			}
			var err error
			if data, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
				say("425 cannot listen")
				continue
			}
			say("229 Entering Extended Passive Mode (|||%d|)", data.Addr().(*net.TCPAddr).Port)
		case "PASV":
			var err error
			if data, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
				say("425 cannot listen")
				continue
			}
			p := data.Addr().(*net.TCPAddr).Port
			say("227 Entering Passive Mode (127,0,0,1,%d,%d).", p>>8, p&0xff)
		case "LIST":
			sendData(f.listing)
		case "MLSD":
			sendData(f.mlsd)
		case "RETR":
			sendData(f.content)
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 %s not implemented", verb)
		}
		_ = arg
	}
}
