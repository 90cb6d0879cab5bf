package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/publish/kafkatest"
)

// TestCrossCompileWindows builds the ingest for windows/amd64 (sites run the
// vendor programs, and sometimes the ingest, on Windows PCs): a unix-only
// call in the ingest's packages breaks this build.
func TestCrossCompileWindows(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	goBin := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		if goBin, err = exec.LookPath("go"); err != nil {
			t.Fatalf("the go command is needed to cross-compile: %v", err)
		}
	}
	out := filepath.Join(t.TempDir(), "ingest.exe")
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, "./cmd/ingest")
	cmd.Dir = kafkatest.RepoRoot(t)
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows GOARCH=amd64 go build ./cmd/ingest: %v\n%s", err, b)
	}
	head := make([]byte, 2)
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Read(head); err != nil || string(head) != "MZ" {
		t.Fatalf("%s is not a Windows executable (starts %q, %v)", out, head, err)
	}
}
