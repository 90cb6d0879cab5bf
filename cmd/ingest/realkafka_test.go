package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/publish/kafkatest"
	"github.com/segmentio/kafka-go"
)

// TestRunOnceRealKafka runs `ingest run --once` against a real single-node
// Apache Kafka broker (KRaft, started by scripts/kafka.sh): the ingest creates
// the topics with the configured partitions, and every punch and reject of
// the drops is on them with the right key, schema and headers.
func TestRunOnceRealKafka(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	addr := kafkatest.StartRealKafka(t)
	root := t.TempDir()
	drops := genDrops(t, filepath.Join(root, "gen"), 80, 5, 3)
	tr := newTruth()
	same := func(p string) string { return p }
	tr.add(t, drops["factory"], "factory", "", same)
	tr.add(t, drops["lab"], "lab", "", same)
	cfg := writeFile(t, filepath.Join(root, "ingest.yaml"), fmt.Sprintf(`state_dir: %s
http: {listen: "off"}
kafka:
  brokers: ["%s"]
  topics: {punches: attendance.punches.v1, rejects: attendance.rejects.v1}
  partitions: 4
  replication_factor: 1
sources:
  - name: factory-drops
    type: dir
    path: %s
    site: factory
    min_age: 1ms
  - name: lab-drops
    type: dir
    path: %s
    site: lab
    min_age: 1ms
`, filepath.Join(root, "state"), addr, drops["factory"], drops["lab"]))
	logs := newSyncBuffer()
	if code := dispatch(ctx, []string{"run", "--config", cfg, "--once", "--settle", "200ms"}, logs, logs); code != 0 {
		t.Fatalf("ingest run --once exited %d\n%s", code, logs)
	}
	client := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 30 * time.Second}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{"attendance.punches.v1", "attendance.rejects.v1", "attendance.files.v1"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range md.Topics {
		if tp.Error != nil || len(tp.Partitions) != 4 {
			t.Fatalf("topic %s: %d partitions, error %v; want 4 created by the ingest", tp.Name, len(tp.Partitions), tp.Error)
		}
	}
	checkTopics(t, addr, tr)
}
