package derive

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.ndjson")

func readPunches(t *testing.T, path string) []attendance.Punch {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ps []attendance.Punch
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		var p attendance.Punch
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		ps = append(ps, p)
	}
	return ps
}

func marshalDays(t *testing.T, recs []attendance.DailyRecord) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, r := range recs {
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// TestGolden derives testdata/punches.ndjson (shuffled, with re-deliveries)
// with the default rules; go test -update rewrites the golden file.
func TestGolden(t *testing.T) {
	ps := readPunches(t, filepath.Join("testdata", "punches.ndjson"))
	got := marshalDays(t, Days(DefaultRules(), ps))
	golden := filepath.Join("testdata", "days.golden.ndjson")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("derived days differ from %s (go test -update to accept):\n%s", golden, got)
	}
	// Reversed input gives the same bytes.
	slices.Reverse(ps)
	if again := marshalDays(t, Days(DefaultRules(), ps)); !bytes.Equal(again, got) {
		t.Errorf("reversed input changed the output:\n%s", again)
	}
}
