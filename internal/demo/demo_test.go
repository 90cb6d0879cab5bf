package demo

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/publish/kafkatest"
)

// TestEndToEndRealKafka runs the main job small over the real Kafka broker
// (scripts/kafka.sh), the embedded ClickHouse engine, vsftpd and the Daou
// simulator, and checks every stage against the generator's ground truth,
// which is computed from the generated people and shifts, not from the
// pipeline: punches and rejects on Kafka and in ClickHouse, unmatched people,
// and every matched working day in Daou's middle database with its times.
func TestEndToEndRealKafka(t *testing.T) {
	broker := kafkatest.StartRealKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	root := kafkatest.RepoRoot(t)
	s, err := Run(ctx, Options{Dir: filepath.Join(t.TempDir(), "demo"), Day: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), Days: 2,
		People: 40, Seed: 3, Kafka: broker, RepoRoot: root, Timeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if int(s.HistoryPunches) != s.WantPunches || int(s.HistoryRejects) != s.WantRejects {
		t.Errorf("ClickHouse has %d punches and %d rejects, want %d and %d", s.HistoryPunches, s.HistoryRejects, s.WantPunches, s.WantRejects)
	}
	// Every person the generator left out of HR and who punched is
	// unmatched, and nobody else (a person missing from HR may have been
	// absent on the generated days).
	want := map[string]bool{}
	for _, k := range s.WantUnmatchedSet {
		want[k] = true
	}
	for _, k := range s.Unmatched {
		if !want[k] {
			t.Errorf("%s is unmatched but is in HR", k)
		}
	}
	if len(s.Unmatched) == 0 || len(s.Unmatched) < len(want)/2 {
		t.Errorf("unmatched people %v, generator left out %v", s.Unmatched, s.WantUnmatchedSet)
	}
	if s.IdenticalResends != 0 {
		t.Errorf("%d identical resends", s.IdenticalResends)
	}
	if s.DaysAccepted < s.DaysExpected || s.DaysExpected == 0 {
		t.Errorf("Daou has %d days, want %d", s.DaysAccepted, s.DaysExpected)
	}
}
