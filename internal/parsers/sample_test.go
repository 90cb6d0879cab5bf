package parsers_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/parsers"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
	"github.com/attendance-pipeline/attnd/internal/sample"
)

type tally struct{ punches, rejects int }

func (c *tally) Punch(attendance.Punch) error   { c.punches++; return nil }
func (c *tally) Reject(attendance.Reject) error { c.rejects++; return nil }

// TestSampleDrops: the generated drops of all three vendor sites, detected
// with vendor and layout on auto, give exactly the generator's punch and
// reject counts, and each file is recognized as its site's layout.
func TestSampleDrops(t *testing.T) {
	dir := t.TempDir()
	loc := parsekit.Seoul()
	truth, err := sample.Generate(sample.Config{Dir: dir, From: time.Date(2024, 1, 8, 0, 0, 0, 0, loc), To: time.Date(2024, 1, 10, 0, 0, 0, 0, loc),
		People: 60, Unmatched: 2, Seed: 7, Location: loc, BadRows: true})
	if err != nil {
		t.Fatal(err)
	}
	var got tally
	for _, s := range sample.Sites {
		files, _ := filepath.Glob(filepath.Join(dir, "drops", s.Name, "*"))
		if len(files) == 0 {
			t.Fatalf("no drops for %s", s.Name)
		}
		for _, f := range files {
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			res, err := parsers.Parse(context.Background(), fh, parsers.Request{Vendor: "auto", Layout: "auto", Name: filepath.Base(f),
				Options: parsekit.Options{Site: s.Name, File: filepath.Base(f), Location: loc}}, &got)
			fh.Close()
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if res.Layout != s.Layout {
				t.Errorf("%s detected as %s, want %s", f, res.Layout, s.Layout)
			}
		}
	}
	if got.punches != truth.Punches || got.rejects != truth.Rejects {
		t.Errorf("punches %d rejects %d, truth says %d and %d", got.punches, got.rejects, truth.Punches, truth.Rejects)
	}
}
