package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// A devstack killed with SIGKILL comes back with its Kafka records and the
// consumer groups' committed offsets: a group that committed 40 of 100
// messages gets exactly the other 60 from the restarted broker.
func TestKafkaSurvivesKill9(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "devstack")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := filepath.Join(tmp, "stack")
	const topic = "attendance.punches.v1"

	addr, stop := startDevstack(ctx, t, bin, dir)
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	var msgs []kafka.Message
	for i := range 100 {
		msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "k%d", i%13), Value: fmt.Appendf(nil, "m%d", i)})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()
	first := readGroup(ctx, t, addr, topic, 40)
	stop(syscall.SIGKILL)

	addr, stop = startDevstack(ctx, t, bin, dir)
	defer stop(syscall.SIGTERM)
	rest := readGroup(ctx, t, addr, topic, 60)
	seen := map[string]int{}
	for _, v := range append(first, rest...) {
		seen[v]++
	}
	for i := range 100 {
		if n := seen[fmt.Sprintf("m%d", i)]; n != 1 {
			t.Errorf("m%d read %d times across the restart, want once", i, n)
		}
	}
}

// startDevstack runs the command on dir and returns its Kafka address and a
// function that signals it and waits for it to exit.
func startDevstack(ctx context.Context, t *testing.T, bin, dir string) (string, func(os.Signal)) {
	t.Helper()
	os.Remove(filepath.Join(dir, "stack.json")) // a killed stack leaves its own
	cmd := exec.CommandContext(ctx, bin, "--dir", dir)
	log, err := os.Create(filepath.Join(t.TempDir(), "devstack.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func(sig os.Signal) {
		cmd.Process.Signal(sig)
		cmd.Wait()
		log.Close()
	}
	for {
		var s struct {
			Kafka string `json:"kafka"`
		}
		if b, err := os.ReadFile(filepath.Join(dir, "stack.json")); err == nil && json.Unmarshal(b, &s) == nil && s.Kafka != "" {
			return s.Kafka, stop
		}
		select {
		case <-ctx.Done():
			stop(syscall.SIGKILL)
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("devstack did not start:\n%s", b)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// readGroup reads n messages as consumer group "g", commits them and
// returns their values.
func readGroup(ctx context.Context, t *testing.T, addr, topic string, n int) []string {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, GroupID: "g", Topic: topic, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	var out []string
	for len(out) < n {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("after %d of %d messages: %v", len(out), n, err)
		}
		if err := r.CommitMessages(ctx, m); err != nil {
			t.Fatal(err)
		}
		out = append(out, string(m.Value))
	}
	return out
}
