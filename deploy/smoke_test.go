package deploy_test

import (
	"bytes"
	"context"
	"debug/elf"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// goBuild builds pkg (relative to the repository root) into dir the way the
// Dockerfiles do: static, no cgo, time zones embedded.
func goBuild(t *testing.T, dir, pkg string, env ...string) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command(gobin, "build", "-trimpath", "-tags", "timetzdata", "-o", out, "./"+pkg)
	cmd.Dir = ".."
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// TestImageEntrypointSmoke runs the ingest the way its image does
// (secretenv -- ingest run --config ...) with the compose example config and
// secrets as files, and probes it with healthprobe, as the compose
// healthcheck does. Kafka and the FTP server are absent: the process must be
// alive (/healthz 200) and not ready (/readyz 503).
func TestImageEntrypointSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the ingest; skipped with -short")
	}
	bin := t.TempDir()
	ingestBin := goBuild(t, bin, "cmd/ingest")
	secretenv := goBuild(t, bin, "deploy/secretenv")
	probe := goBuild(t, bin, "deploy/healthprobe")
	for _, b := range []string{ingestBin, secretenv, probe} {
		f, err := elf.Open(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s is dynamically linked: it would not start in a distroless static image", filepath.Base(b))
			}
		}
		f.Close()
	}

	work := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	raw, err := os.ReadFile(filepath.Join("..", ingestExample))
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer(
		"state_dir: /var/lib/attnd", "state_dir: "+filepath.Join(work, "state"),
		"listen: 0.0.0.0:9464", "listen: "+addr,
		"path: /var/spool/attnd/drops/hq", "path: "+work,
	).Replace(string(raw))
	cfgPath := filepath.Join(work, "ingest.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	secrets := filepath.Join(work, "secrets")
	os.Mkdir(secrets, 0o700)
	env := []string{"PATH=/usr/bin:/bin", "KAFKA_BROKERS=127.0.0.1:1"}

	// Without the secret files the config does not validate: exit 2, naming them.
	var stderr bytes.Buffer
	cmd := exec.Command(secretenv, "-dir", secrets, "--", ingestBin, "run", "--config", cfgPath)
	cmd.Env, cmd.Stderr = env, &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "FTP_PASSWORD") || !strings.Contains(stderr.String(), "ATTND_CARD_KEY") {
		t.Fatalf("without secrets: %v, stderr %s", err, stderr.String())
	}

	for name, v := range map[string]string{"FTP_PASSWORD": "pw\n", "ATTND_CARD_KEY": "k\n"} {
		if err := os.WriteFile(filepath.Join(secrets, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var logs bytes.Buffer
	cmd = exec.CommandContext(ctx, secretenv, "-dir", secrets, "--", ingestBin, "run", "--config", cfgPath)
	cmd.Env, cmd.Stderr, cmd.Stdout = env, &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ingest did not stop cleanly on SIGINT: %v\n%s", err, logs.String())
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Errorf("ingest did not stop within 20 s of SIGINT")
		}
	}()
	run := func(path string) int {
		c := exec.Command(probe, "-timeout", "8s", "http://"+addr+path)
		err := c.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	}
	deadline := time.Now().Add(20 * time.Second)
	for run("/healthz") != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("/healthz never answered 200:\n%s", logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code := run("/readyz"); code != 1 {
		t.Errorf("/readyz probe exit %d without Kafka and FTP, want 1", code)
	}
}
