package publish

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/obs"
	"github.com/attendance-pipeline/attnd/internal/publish/kafkatest"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var topics = []string{DefaultPunchesTopic, DefaultRejectsTopic, DefaultFilesTopic}

func punches(n int) []attendance.Punch {
	base := time.Date(2024, 1, 5, 8, 0, 0, 0, time.FixedZone("KST", 9*3600))
	out := make([]attendance.Punch, n)
	for i := range out {
		emp := fmt.Sprintf("12300%02d", i%37)
		at := base.Add(time.Duration(i) * time.Second)
		out[i] = attendance.Punch{
			EventID: attendance.EventID("hq", "telecop", at, emp, "", attendance.ModeIn, "출근", "", true),
			Vendor:  "telecop", Layout: "telecop-report-csv", Site: "hq", OccurredAt: at,
			EmployeeNo: emp, Mode: attendance.ModeIn, RawMode: "출근", AuthOK: true,
			SourceFile: "drop.csv", SourceLine: i + 2,
		}
	}
	return out
}

func newPub(t *testing.T, addr string, mut func(*Config)) (*Publisher, *obs.IngestMetrics) {
	t.Helper()
	cfg := Config{Brokers: []string{addr}, ChunkSize: 100, Retries: 20, WriteTimeout: 5 * time.Second}
	if mut != nil {
		mut(&cfg)
	}
	m := obs.NewIngestMetrics(obs.NewRegistry())
	p, err := New(cfg, nil, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, m
}

// publishFile sends ps (and one reject every 50 punches) through a FileWriter and flushes.
func publishFile(ctx context.Context, p *Publisher, ps []attendance.Punch) (*FileWriter, error) {
	w := p.File(ctx, FileMeta{SourceFile: "drop.csv", SHA256: "abc123", Site: "hq"})
	for i, pu := range ps {
		if err := w.Punch(pu); err != nil {
			return w, err
		}
		if i%50 == 0 {
			r := attendance.Reject{RejectID: fmt.Sprintf("r%d", i), Site: "hq", File: "drop.csv", Line: i, Layout: "telecop-report-csv", Reason: "bad time", Raw: "x"}
			if err := w.Reject(r); err != nil {
				return w, err
			}
		}
	}
	return w, w.Flush()
}

func eventIDs(t *testing.T, msgs []kafka.Message) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, m := range msgs {
		var pu attendance.Punch
		if err := json.Unmarshal(m.Value, &pu); err != nil {
			t.Fatal(err)
		}
		if string(m.Key) != pu.PartitionKey() || len(m.Headers) != 0 {
			t.Fatalf("message key %q, headers %v: want key %q and no headers for punch %+v", m.Key, m.Headers, pu.PartitionKey(), pu)
		}
		got[pu.EventID]++
	}
	return got
}

func checkAll(t *testing.T, addr string, ps []attendance.Punch, wantRejects int) {
	t.Helper()
	msgs := kafkatest.ReadAll(t, addr, DefaultPunchesTopic)
	got := eventIDs(t, msgs)
	for _, pu := range ps {
		if got[pu.EventID] == 0 {
			t.Fatalf("event %s (line %d) missing from topic (%d distinct ids there)", pu.EventID, pu.SourceLine, len(got))
		}
	}
	if len(got) != len(ps) {
		t.Fatalf("%d distinct ids on topic, want %d", len(got), len(ps))
	}
	rej := map[string]bool{}
	for _, m := range kafkatest.ReadAll(t, addr, DefaultRejectsTopic) {
		rej[kafkatest.Header(m, "reject_id")] = true
	}
	if len(rej) != wantRejects {
		t.Fatalf("%d distinct rejects, want %d", len(rej), wantRejects)
	}
}

func TestPublishKeysAndPartitions(t *testing.T) {
	ctx := context.Background()
	_, addr := kafkatest.Fake(t, 1, 4, topics)
	p, m := newPub(t, addr, nil)
	ps := punches(1000)
	w, err := publishFile(ctx, p, ps)
	if err != nil {
		t.Fatal(err)
	}
	if n, r := w.Acked(); n != 1000 || r != 20 {
		t.Fatalf("acked %d punches %d rejects", n, r)
	}
	checkAll(t, addr, ps, 20)
	msgs := kafkatest.ReadAll(t, addr, DefaultPunchesTopic)
	partOf := map[string]int{}
	for _, m := range msgs {
		if len(m.Headers) != 0 {
			t.Fatalf("punch message with headers %+v; the value holds every field", m.Headers)
		}
		if p, ok := partOf[string(m.Key)]; ok && p != m.Partition {
			t.Fatalf("key %s on partitions %d and %d", m.Key, p, m.Partition)
		}
		partOf[string(m.Key)] = m.Partition
	}
	if got, rej := obs.Value(m.KafkaMessages.WithLabelValues(DefaultPunchesTopic)), obs.Value(m.KafkaMessages.WithLabelValues(DefaultRejectsTopic)); got != 1000 || rej != 20 {
		t.Fatalf("messages metric: %v punches, %v rejects; want 1000 and 20", got, rej)
	}
	// File records go to the files topic keyed by sha256.
	if err := p.PublishFile(ctx, attendance.FileRecord{Path: "/d/drop.csv", SHA256: "abc123", State: attendance.FileDone, Punches: 1000}); err != nil {
		t.Fatal(err)
	}
	fr := kafkatest.ReadAll(t, addr, DefaultFilesTopic)
	if len(fr) != 1 || string(fr[0].Key) != "abc123" || kafkatest.Header(fr[0], "state") != "done" {
		t.Fatalf("files topic: %+v", fr)
	}
}

func TestEnsureTopics(t *testing.T) {
	ctx := context.Background()
	_, addr := kafkatest.Fake(t, 1, 2, []string{DefaultPunchesTopic}) // one exists already
	p, _ := newPub(t, addr, func(c *Config) { c.Partitions = 3 })
	if err := p.EnsureTopics(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.EnsureTopics(ctx); err != nil {
		t.Fatalf("second EnsureTopics: %v", err)
	}
	client := &kafka.Client{Addr: kafka.TCP(addr)}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{DefaultPunchesTopic: 2, DefaultRejectsTopic: 3, DefaultFilesTopic: 3}
	for _, tp := range md.Topics {
		if tp.Error != nil || len(tp.Partitions) != want[tp.Name] {
			t.Errorf("topic %s: %d partitions, err %v; want %d", tp.Name, len(tp.Partitions), tp.Error, want[tp.Name])
		}
	}
	if err := p.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPingFailsWhenBrokerGone: Ping must not be answered from kafka-go's
// metadata cache once the broker is gone (readiness), and recovers when a
// broker is back on the same address.
func TestPingFailsWhenBrokerGone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, DefaultPunchesTopic))
	if err != nil {
		t.Fatal(err)
	}
	addr := c.ListenAddrs()[0]
	p, err := New(Config{Brokers: []string{addr}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Ping(ctx); err != nil {
		t.Fatalf("ping with the broker up: %v", err)
	}
	// Warm kafka-go's transport cache the way the writer does.
	if _, err := p.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{DefaultPunchesTopic}}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
	defer pcancel()
	if err := p.Ping(pctx); err == nil {
		t.Fatal("ping succeeded with the broker gone")
	}
	_, port, _ := net.SplitHostPort(addr)
	var portNum int
	fmt.Sscan(port, &portNum)
	c2, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(portNum), kfake.SeedTopics(1, DefaultPunchesTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := p.Ping(ctx); err != nil {
		t.Fatalf("ping with the broker back: %v", err)
	}
}

// produceError answers a produce request with code on every partition.
func produceError(req kmsg.Request, code int16) kmsg.Response {
	pr := req.(*kmsg.ProduceRequest)
	resp := pr.ResponseKind().(*kmsg.ProduceResponse)
	for _, tp := range pr.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic = tp.Topic
		for _, part := range tp.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition = part.Partition
			rp.ErrorCode = code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func TestFaultInjection(t *testing.T) {
	const (
		notLeader       = 6
		notEnoughReplic = 19
		timedOut        = 7
	)
	tests := []struct {
		name    string
		brokers int
		// arm installs the fault; n counts produce requests seen so far.
		arm func(c *kfake.Cluster, n *atomic.Int64)
	}{
		{"broker errors on every 3rd produce", 1, func(c *kfake.Cluster, n *atomic.Int64) {
			c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				if n.Add(1)%3 == 0 {
					return produceError(req, notEnoughReplic), nil, true
				}
				return nil, nil, false
			})
		}},
		{"request timed out then not leader for a while", 1, func(c *kfake.Cluster, n *atomic.Int64) {
			c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				switch k := n.Add(1); {
				case k >= 5 && k < 12:
					return produceError(req, notLeader), nil, true
				case k == 3:
					return produceError(req, timedOut), nil, true
				}
				return nil, nil, false
			})
		}},
		{"connection dropped mid-produce", 1, func(c *kfake.Cluster, n *atomic.Int64) {
			c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				if k := n.Add(1); k == 4 || k == 9 {
					return nil, fmt.Errorf("injected disconnect"), true
				}
				return nil, nil, false
			})
		}},
		{"leaders shuffle mid-file", 3, func(c *kfake.Cluster, n *atomic.Int64) {
			c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				if k := n.Add(1); k == 4 || k == 12 {
					go c.ShufflePartitionLeaders()
				}
				return nil, nil, false
			})
		}},
		{"partition moves to another broker mid-file", 3, func(c *kfake.Cluster, n *atomic.Int64) {
			c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				if k := n.Add(1); k == 3 {
					go func() {
						for part := int32(0); part < 4; part++ {
							c.MoveTopicPartition(DefaultPunchesTopic, part, (c.LeaderFor(DefaultPunchesTopic, part)+1)%3)
						}
					}()
				}
				return nil, nil, false
			})
		}},
		{"a broker disappears mid-file", 3, func(c *kfake.Cluster, n *atomic.Int64) {
			c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				if k := n.Add(1); k == 3 {
					go c.RemoveNode(c.LeaderFor(DefaultPunchesTopic, 0))
				}
				return nil, nil, false
			})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			c, _ := kafkatest.Fake(t, tc.brokers, 4, topics)
			addrs := c.ListenAddrs()
			p, _ := newPub(t, addrs[0], func(cfg *Config) { cfg.Brokers = addrs })
			var n atomic.Int64
			tc.arm(c, &n)
			ps := punches(2000)
			w, err := publishFile(ctx, p, ps)
			if err != nil {
				t.Fatalf("publish through faults: %v", err)
			}
			if got, _ := w.Acked(); got != len(ps) {
				t.Fatalf("acked %d of %d", got, len(ps))
			}
			if n.Load() == 0 {
				t.Fatal("the fault hook saw no produce request")
			}
			// Read from a broker that is still there.
			var alive string
			for _, a := range c.ListenAddrs() {
				alive = a
				break
			}
			checkAll(t, alive, ps, 40)
		})
	}
}

func TestPersistentFailureIsReported(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, addr := kafkatest.Fake(t, 1, 2, topics)
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return produceError(req, 19), nil, true
	})
	p, _ := newPub(t, addr, func(cfg *Config) { cfg.Retries = 2 })
	w, err := publishFile(ctx, p, punches(10))
	if err == nil {
		t.Fatal("Flush returned nil although no produce was acknowledged")
	}
	if n, _ := w.Acked(); n != 0 {
		t.Fatalf("acked %d", n)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"ok", Config{Brokers: []string{"127.0.0.1:9092"}}, ""},
		{"no brokers", Config{}, "kafka.brokers"},
		{"bad broker", Config{Brokers: []string{"localhost"}}, "kafka.brokers[0]"},
		{"bad compression", Config{Brokers: []string{"a:1"}, Compression: "brotli"}, "kafka.compression"},
		{"bad sasl", Config{Brokers: []string{"a:1"}, SASL: SASL{Mechanism: "gssapi", Username: "u"}}, "kafka.sasl.mechanism"},
		{"sasl without user", Config{Brokers: []string{"a:1"}, SASL: SASL{Mechanism: "plain"}}, "kafka.sasl.username"},
	}
	for _, tc := range tests {
		err := tc.cfg.WithDefaults().Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	for _, mech := range []string{"plain", "scram-sha-256", "scram-sha-512"} {
		cfg := Config{Brokers: []string{"a:1"}, SASL: SASL{Mechanism: mech, Username: "u", Password: "p"}}.WithDefaults()
		if m, err := cfg.mechanism(); err != nil || m == nil {
			t.Errorf("%s: %v", mech, err)
		}
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && (s == sub || indexOf(s, sub) >= 0))
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// A writer given up mid-file (Close without Flush) stops its sender and
// refuses more work; a failed write makes Punch report it.
func TestFileWriterCloseAndSpent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, addr := kafkatest.Fake(t, 1, 2, topics)
	p, _ := newPub(t, addr, func(cfg *Config) { cfg.Retries = 1 })
	w := p.File(ctx, FileMeta{SourceFile: "a.csv", SHA256: "x"})
	for _, pu := range punches(250) { // two full chunks go to the sender
		if err := w.Punch(pu); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	if err := w.Flush(); err == nil {
		t.Fatal("Flush after Close returned nil")
	}
	early := p.File(ctx, FileMeta{SourceFile: "c.csv", SHA256: "z"})
	early.Punch(punches(1)[0]) // buffered only, no sender yet
	early.Close()
	if err := early.Flush(); err == nil {
		t.Fatal("Flush after Close (before any chunk was sent) returned nil")
	}
	if n, _ := w.Acked(); n > 200 {
		t.Fatalf("acked %d punches; the 50 still buffered at Close must not be written", n)
	}

	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return produceError(req, 19), nil, true
	})
	w2 := p.File(ctx, FileMeta{SourceFile: "b.csv", SHA256: "y"})
	var perr error
	for _, pu := range punches(2000) {
		if perr = w2.Punch(pu); perr != nil {
			break
		}
	}
	if perr == nil {
		t.Fatal("Punch kept accepting work after a write failed")
	}
	if err := w2.Flush(); err == nil {
		t.Fatal("Flush returned nil after a failed write")
	}
	if n, _ := w2.Acked(); n != 0 {
		t.Fatalf("acked %d with every write refused", n)
	}
}

// A write that gives up while the broker is gone fails; writes succeed again
// once a broker is back on the same address.
func TestWriteRecoversWhenBrokerReturns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, DefaultPunchesTopic))
	if err != nil {
		t.Fatal(err)
	}
	addr := c.ListenAddrs()[0]
	p, err := New(Config{Brokers: []string{addr}, Retries: 2, WriteTimeout: time.Second}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	msg := func(v string) kafka.Message {
		return kafka.Message{Topic: DefaultPunchesTopic, Key: []byte("k"), Value: []byte(v)}
	}
	if err := p.write(ctx, []kafka.Message{msg("before")}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := p.write(ctx, []kafka.Message{msg("during")}); err == nil {
		t.Fatal("write succeeded with the broker gone")
	}
	_, port, _ := net.SplitHostPort(addr)
	var portNum int
	fmt.Sscan(port, &portNum)
	c2, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(portNum), kfake.SeedTopics(1, DefaultPunchesTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := p.write(ctx, []kafka.Message{msg("after")}); err != nil {
		t.Fatalf("write with the broker back: %v", err)
	}
	got, err := kafkatest.ReadTopic(ctx, addr, DefaultPunchesTopic)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || string(got[len(got)-1].Value) != "after" {
		t.Fatalf("the new broker holds %d messages, want the one written after it came back", len(got))
	}
}

// A closed Publisher leaves no connection behind.
func TestCloseReleasesConnections(t *testing.T) {
	ctx := context.Background()
	_, addr := kafkatest.Fake(t, 1, 2, topics)
	before := runtime.NumGoroutine()
	p, err := New(Config{Brokers: []string{addr}, ChunkSize: 100, WriteTimeout: 5 * time.Second}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := publishFile(ctx, p, punches(20)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := publishFile(ctx, p, punches(20)); err != nil {
		t.Fatal(err)
	}
	during := runtime.NumGoroutine()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Fatalf("%d goroutines after Close (%d before the publisher, %d while open): connections left open", n, before, during)
	}
}
