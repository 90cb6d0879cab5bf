package adtcaps_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attendance-pipeline/attnd/internal/parsers"
	"github.com/attendance-pipeline/attnd/internal/parsers/adtcaps"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
)

// TestDetectionFromContent: every fixture of every vendor package, renamed so
// the file name cannot help, is detected from content alone; the ADT Caps
// layouts claim exactly the ADT Caps fixtures and sniff none of the others.
func TestDetectionFromContent(t *testing.T) {
	var files []string
	for _, dir := range []string{"testdata", "../secom/testdata", "../telecop/testdata"} {
		all, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, f := range all {
			if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() && !strings.HasSuffix(f, ".golden") {
				files = append(files, f)
			}
		}
	}
	if len(files) < 10 {
		t.Fatalf("only %d fixtures found", len(files))
	}
	caps := adtcaps.Layouts()
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ours := strings.HasPrefix(f, "testdata")
		res, err := parsers.Parse(context.Background(), bytes.NewReader(raw), parsers.Request{Vendor: "auto", Layout: "auto", Name: "export.dat",
			Options: parsekit.Options{File: "export.dat"}}, discard{})
		if res.Layout == "" { // a fixture may fail later on purpose (broken XML), not at detection
			t.Errorf("%s: not detected: %v", f, err)
			continue
		}
		if (res.Vendor == "adtcaps") != ours {
			t.Errorf("%s detected as %s/%s", f, res.Vendor, res.Layout)
		}
		if ours {
			continue
		}
		text, _, err := parsekit.DecodeText(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 8<<10)
		n, _ := io.ReadFull(text, head)
		for _, l := range caps {
			if l.Sniff(string(head[:n])) {
				t.Errorf("%s sniffs %s", l.Name, f)
			}
		}
	}
}
