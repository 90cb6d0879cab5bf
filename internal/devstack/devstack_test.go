package devstack

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// The stack answers as the real servers do: ClickHouse's HTTP interface to a
// plain GET, Kafka's metadata to kafka-go and to kcat (Debian's), and
// stack.json names both.
func TestStack(t *testing.T) {
	dir := t.TempDir()
	daou := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "daou") })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, Config{Dir: dir, Daou: daou})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	var onDisk Stack
	b, err := os.ReadFile(filepath.Join(dir, "stack.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &onDisk); err != nil || onDisk.Kafka != s.Kafka || onDisk.ClickHouseHTTP != s.ClickHouseHTTP || onDisk.Daou != s.Daou {
		t.Fatalf("stack.json = %s (%v)", b, err)
	}

	resp, err := http.Get(s.ClickHouseHTTP + "/?query=" + url.QueryEscape("SELECT 1"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "1" {
		t.Fatalf("SELECT 1 = %d %q", resp.StatusCode, body)
	}
	// The engine runs with its MergeTree defaults (horizontal merges).
	resp, err = http.Get(s.ClickHouseHTTP + "/?query=" + url.QueryEscape("SELECT value FROM system.merge_tree_settings WHERE name = 'enable_vertical_merge_algorithm'"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.TrimSpace(string(body)) != "0" {
		t.Fatalf("enable_vertical_merge_algorithm = %q, want 0", body)
	}

	conn, err := kafka.DialContext(ctx, "tcp", s.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := conn.ReadPartitions()
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, p := range parts {
		seen[p.Topic]++
	}
	for _, topic := range Topics {
		if seen[topic] != 6 {
			t.Errorf("topic %s has %d partitions, want 6", topic, seen[topic])
		}
	}

	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat is not installed: run make setup")
	}
	out, err := exec.CommandContext(ctx, kcat, "-L", "-b", s.Kafka).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "attendance.punches.v1") {
		t.Fatalf("kcat -L: %v\n%s", err, out)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "stack.json")); !os.IsNotExist(err) {
		t.Error("stack.json must be removed on close")
	}
}

// Records older than the retention (seven days by default) are dropped when
// the stack starts; newer ones stay; a retention given at a later start
// applies.
func TestStackRetention(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const topic = "attendance.files.v1"
	s, err := Start(ctx, Config{Dir: dir, Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(s.Kafka), Topic: topic, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	for _, at := range []time.Time{time.Now().Add(-8 * 24 * time.Hour), time.Now().Add(-6 * 24 * time.Hour)} {
		if err := w.WriteMessages(ctx, kafka.Message{Value: []byte(at.Format(time.DateOnly)), Time: at}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Start(ctx, Config{Dir: dir, Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := kafka.DialLeader(ctx, "tcp", s.Kafka, topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	first, last, err := conn.ReadOffsets()
	if err != nil || first != 1 || last != 2 {
		t.Fatalf("offsets %d..%d (%v): want the 8-day-old record (offset 0) dropped and the 6-day-old one kept", first, last, err)
	}
	conn.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A shorter retention given at the next start applies to what is kept.
	s, err = Start(ctx, Config{Dir: dir, Partitions: 1, Retention: 5 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err = kafka.DialLeader(ctx, "tcp", s.Kafka, topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if first, last, err = conn.ReadOffsets(); err != nil || first != 2 || last != 2 {
		t.Fatalf("with five days: offsets %d..%d (%v), want both records dropped", first, last, err)
	}
}
