package ingest

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attendance-pipeline/attnd/internal/obs"
	"github.com/attendance-pipeline/attnd/internal/source/dirsrc"
	"github.com/attendance-pipeline/attnd/internal/source/ftpsrc"
)

// The YAML config's source types build the real implementations: dir ->
// dirsrc, ftp -> ftpsrc (with the FTP errors counted in the metrics), and
// both kinds run side by side in one ingest, each with its readiness check.
func TestFactoriesBuildEverySourceType(t *testing.T) {
	root := t.TempDir()
	yml := fmt.Sprintf(`state_dir: %s
http: {listen: "off"}
kafka: {brokers: ["127.0.0.1:1"]}
sources:
  - name: local
    type: dir
    path: %s
    site: hq
  - name: remote
    type: ftp
    url: ftp://drops@127.0.0.1:1/exports
    password_env: TEST_FTP_PW
    tls: explicit
    site: lab
    timeout: 1s
`, filepath.Join(root, "state"), root)
	env := func(k string) (string, bool) {
		if k == "TEST_FTP_PW" {
			return "s3cret-pw", true
		}
		return "", false
	}
	cfg, err := ParseConfig([]byte(yml), env)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_FTP_PW", "s3cret-pw")
	m := obs.NewIngestMetrics(obs.NewRegistry())
	in, err := New(context.Background(), cfg, Factories(m), obs.Discard(), m)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if len(in.runners) != 2 {
		t.Fatalf("%d sources built, want 2", len(in.runners))
	}
	if _, ok := in.runners[0].src.(*dirsrc.Source); !ok {
		t.Fatalf("type dir built %T", in.runners[0].src)
	}
	ftp, ok := in.runners[1].src.(*ftpsrc.Source)
	if !ok {
		t.Fatalf("type ftp built %T", in.runners[1].src)
	}
	if ftp.Dir() != "/exports" || ftp.Name() != "remote" {
		t.Fatalf("ftp source dir %q name %q", ftp.Dir(), ftp.Name())
	}
	checks := in.Checks()
	for _, name := range []string{"kafka", "source:local", "source:remote"} {
		if checks[name] == nil {
			t.Fatalf("no readiness check %q (have %v)", name, checks)
		}
	}
	// Nothing listens on port 1: the FTP check fails, is counted, and does
	// not leak the password.
	err = checks["source:remote"](context.Background())
	if err == nil {
		t.Fatal("FTP readiness passed with no server")
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("error leaks the password: %v", err)
	}
	if v := obs.Value(m.SourceErrs.WithLabelValues("remote", "dial")); v < 1 {
		t.Fatalf("FTP dial errors counted %v, want >= 1", v)
	}
}
