//go:build unix

package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, v string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("DAOU_CLIENT_SECRET", "s3cr=t\n")
	write("FTP_PASSWORD", "crlf\r\n")
	write("KEEP_NEWLINES", "a\n\n")
	write("clickhouse-users.xml", "<x/>")
	if err := os.Mkdir(filepath.Join(dir, "SUBDIR"), 0o700); err != nil {
		t.Fatal(err)
	}
	env, err := Load(dir, []string{"PATH=/bin", "FTP_PASSWORD=old"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PATH=/bin", "DAOU_CLIENT_SECRET=s3cr=t", "FTP_PASSWORD=crlf", "KEEP_NEWLINES=a\n"} {
		if !slices.Contains(env, want) {
			t.Errorf("env lacks %q: %q", want, env)
		}
	}
	for _, kv := range env {
		if kv == "FTP_PASSWORD=old" || strings.HasPrefix(kv, "clickhouse") || strings.HasPrefix(kv, "SUBDIR") {
			t.Errorf("unexpected %q", kv)
		}
	}
	if got, err := Load(filepath.Join(dir, "missing"), []string{"A=1"}); err != nil || len(got) != 1 {
		t.Errorf("missing dir: %v %v", got, err)
	}
	write("HUGE", strings.Repeat("x", maxSecret+1))
	if _, err := Load(dir, nil); err == nil {
		t.Error("a huge secret file was accepted")
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "X_SECRET"), []byte("v\n"), 0o600)
	var gotArgv, gotEnv []string
	execve := func(path string, argv, env []string) error { gotArgv, gotEnv = argv, env; return nil }
	if code := run([]string{"-dir", dir, "-require", "X_SECRET", "--", "true", "a"}, []string{"PATH=" + os.Getenv("PATH")}, io.Discard, execve); code != 126 || !slices.Equal(gotArgv, []string{"true", "a"}) || !slices.Contains(gotEnv, "X_SECRET=v") {
		t.Errorf("run: code %d argv %q env %q", code, gotArgv, gotEnv)
	}
	if code := run([]string{"-dir", dir, "-require", "Y_SECRET", "--", "true"}, nil, io.Discard, execve); code != 1 {
		t.Errorf("missing required: code %d", code)
	}
	if code := run([]string{"-dir", dir}, nil, io.Discard, execve); code != 2 {
		t.Errorf("no program: code %d", code)
	}
	if d := defaultDir([]string{"CREDENTIALS_DIRECTORY=/run/credentials/x"}); d != "/run/credentials/x" {
		t.Errorf("defaultDir = %s", d)
	}
}
