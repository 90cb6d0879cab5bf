// Package kafkatest starts Kafka brokers for tests (an in-process kfake
// cluster, or a real Apache Kafka broker through scripts/kafka.sh) and reads
// topics back.
//
// Guarantee: every broker a helper starts is stopped (by PID for the real
// one) in t.Cleanup; a missing prerequisite fails the test, never skips it.
package kafkatest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Fake starts an in-process kfake cluster with the given topics seeded.
func Fake(t testing.TB, brokers int, partitions int32, topics []string, opts ...kfake.Opt) (*kfake.Cluster, string) {
	t.Helper()
	all := append([]kfake.Opt{kfake.NumBrokers(brokers), kfake.SeedTopics(partitions, topics...)}, opts...)
	c, err := kfake.NewCluster(all...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()[0]
}

// RepoRoot finds the module root (where go.mod is) from this file.
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("kafkatest: cannot locate source file")
	}
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("kafkatest: go.mod not found above " + file)
		}
		dir = parent
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 20; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		// The controller listens on port+1: make sure it is free too.
		if ln2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+1)); err == nil {
			ln2.Close()
			return port
		}
	}
	t.Fatal("kafkatest: no free port pair")
	return 0
}

// StartRealKafka starts a real single-node Apache Kafka broker (KRaft) with
// scripts/kafka.sh in a temp dir and returns its address; the broker is
// killed by PID in t.Cleanup. It fails the test if Java or the jars (and mvn
// to fetch them) are missing.
func StartRealKafka(t testing.TB) string {
	t.Helper()
	return StartReal(t).Addr
}

// RealKafka is a real broker started by StartReal. Stop and Start take it
// down and bring it back on the same port with its data: scripts/kafka.sh
// keeps DIR/data (formatted only on the first start) and stops by the PID in
// DIR/kafka.pid (SIGTERM, SIGKILL after 10 s).
type RealKafka struct {
	Addr string // 127.0.0.1:Port
	Dir  string // data under Dir/data, broker output in Dir/kafka.out
	Port int    // the controller listens on Port+1

	script, root string
}

// StartReal is StartRealKafka returning the broker, for tests that stop and
// restart it. t.Cleanup stops it (by PID) whatever state it is left in.
func StartReal(t testing.TB) *RealKafka {
	t.Helper()
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatal("kafkatest: java is not installed (apt-get install -y openjdk-17-jre-headless); the real-Kafka tests need it")
	}
	root := RepoRoot(t)
	k := &RealKafka{Dir: t.TempDir(), Port: freePort(t), script: filepath.Join(root, "scripts", "kafka.sh"), root: root}
	t.Cleanup(func() {
		if err := k.Stop(); err != nil {
			t.Logf("%v", err)
		}
	})
	if err := k.Start(); err != nil {
		t.Fatalf("kafkatest: %v (needs java and the jars from scripts/setup-kafka.sh, which needs mvn and Maven Central)", err)
	}
	return k
}

// Start starts the broker (again) with the same data dir and port and waits
// until it accepts connections.
func (k *RealKafka) Start() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", k.script, "start", k.Dir, fmt.Sprint(k.Port))
	cmd.Env = os.Environ()
	if os.Getenv("ATTND_CACHE") == "" {
		cmd.Env = append(cmd.Env, "ATTND_CACHE="+filepath.Join(k.root, ".cache"))
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("scripts/kafka.sh start %s %d: %v\n%s", k.Dir, k.Port, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	addr := lines[len(lines)-1]
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("scripts/kafka.sh start printed %q, not an address", out)
	}
	if k.Addr != "" && addr != k.Addr {
		return fmt.Errorf("scripts/kafka.sh start: broker came back on %s, not %s", addr, k.Addr)
	}
	k.Addr = addr
	return nil
}

// Stop stops the broker process by its PID (scripts/kafka.sh stop) and
// keeps its data; stopping a stopped broker is fine.
func (k *RealKafka) Stop() error {
	out, err := exec.Command("bash", k.script, "stop", k.Dir, fmt.Sprint(k.Port)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("scripts/kafka.sh stop %s: %v: %s", k.Dir, err, out)
	}
	return nil
}

// PID is the broker's process id, 0 when it is not running.
func (k *RealKafka) PID() int {
	b, err := os.ReadFile(filepath.Join(k.Dir, "kafka.pid"))
	if err != nil {
		return 0
	}
	var pid int
	fmt.Sscan(strings.TrimSpace(string(b)), &pid)
	return pid
}

// ReadAll reads every message currently on every partition of topic (from
// the first offset to the high watermark at the time of the call).
func ReadAll(t testing.TB, addr, topic string) []kafka.Message {
	t.Helper()
	msgs, err := ReadTopic(context.Background(), addr, topic)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// ReadTopic is ReadAll returning an error.
func ReadTopic(ctx context.Context, addr, topic string) ([]kafka.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 30 * time.Second}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata %s: %w", topic, err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil {
		return nil, fmt.Errorf("metadata %s: %+v", topic, md.Topics)
	}
	var reqs []kafka.OffsetRequest
	for _, p := range md.Topics[0].Partitions {
		reqs = append(reqs, kafka.LastOffsetOf(p.ID))
	}
	lo, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("list offsets %s: %w", topic, err)
	}
	var out []kafka.Message
	for _, po := range lo.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("list offsets %s/%d: %w", topic, po.Partition, po.Error)
		}
		end := po.LastOffset
		if end <= 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: []string{addr}, Topic: topic, Partition: po.Partition,
			MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 200 * time.Millisecond,
		})
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				return nil, fmt.Errorf("read %s/%d: %w", topic, po.Partition, err)
			}
			out = append(out, m)
			if m.Offset >= end-1 {
				break
			}
		}
		r.Close()
	}
	return out, nil
}

// EventID returns the event_id of a punch or unmatched message's JSON value
// ("" when the value has none).
func EventID(m kafka.Message) string {
	var v struct {
		EventID string `json:"event_id"`
	}
	if json.Unmarshal(m.Value, &v) != nil {
		return ""
	}
	return v.EventID
}

// Header returns a message header's value.
func Header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
