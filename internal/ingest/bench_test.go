package ingest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/parsers"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
	"github.com/attendance-pipeline/attnd/internal/publish/kafkatest"
	"github.com/segmentio/kafka-go"
)

// benchRows is the size of the benchmark drop (1M punches; 100k with -short).
func benchRows() int {
	if testing.Short() {
		return 100_000
	}
	return 1_000_000
}

// benchChunk is kafka.chunk_size for the benchmarks (ATTND_BENCH_CHUNK, default 5000 = the default).
func benchChunk() int {
	n, err := strconv.Atoi(os.Getenv("ATTND_BENCH_CHUNK"))
	if err != nil || n <= 0 {
		return 5000
	}
	return n
}

// benchCompression is kafka.compression for both the ingest and kcat
// (ATTND_BENCH_COMPRESSION, default snappy = the default).
func benchCompression() string {
	if v := os.Getenv("ATTND_BENCH_COMPRESSION"); v != "" {
		return v
	}
	return "snappy"
}

// benchDrop writes one large telecop-report-csv drop and returns its path and size.
func benchDrop(b *testing.B, rows int) (string, int64) {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "drops")
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	p := filepath.Join(dir, "bulk.csv")
	telecopDrop(b, p, 21, rows, 0)
	st, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	return p, st.Size()
}

// ingestOnce runs a fresh ingest (new state dir) over drop into addr and
// returns how long `Once` took; it fails unless every row was published.
func ingestOnce(b *testing.B, addr, drop string, rows int) time.Duration {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	yml := fmt.Sprintf(`state_dir: %s
http: {listen: "off"}
kafka:
  brokers: [%s]
  partitions: 6
  chunk_size: %d
  compression: %s
sources:
  - name: bulk
    type: dir
    path: %s
    site: hq
    min_age: 1ms
    poll_interval: 1h
`, filepath.Join(b.TempDir(), "state"), addr, benchChunk(), benchCompression(), filepath.Dir(drop))
	cfg, err := ParseConfig([]byte(yml), func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	in, err := New(ctx, cfg, map[string]Factory{"dir": DirFactory}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	if err := in.Start(ctx); err != nil {
		b.Fatal(err)
	}
	cpu0 := processCPU()
	start := time.Now()
	if err := in.Once(ctx, 5*time.Millisecond); err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	b.ReportMetric((processCPU() - cpu0).Seconds(), "cpu-s/drop")
	all, err := in.Ledger().All(ctx)
	if err != nil || len(all) != 1 || all[0].State != attendance.FileDone || all[0].Punches != rows {
		b.Fatalf("after the run: ledger %+v, %v; want one done file with %d punches", all, err, rows)
	}
	return took
}

func reportRate(b *testing.B, rows int, size int64, took time.Duration) float64 {
	rate := float64(rows) / took.Seconds()
	b.ReportMetric(rate, "punches/s")
	b.ReportMetric(float64(size)/took.Seconds()/1e6, "MB/s")
	b.ReportMetric(took.Seconds(), "s/drop")
	return rate
}

// BenchmarkIngestKfake: file -> hash -> parse -> kafka-go (acks=all, snappy,
// 5000-message chunks) -> in-process kfake, for one large drop.
// Run: go test -run '^$' -bench IngestKfake -benchtime 1x ./internal/ingest
func BenchmarkIngestKfake(b *testing.B) {
	rows := benchRows()
	drop, size := benchDrop(b, rows)
	b.ResetTimer()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		_, addr := kafkatest.Fake(b, 1, 6, allTopics)
		total += ingestOnce(b, addr, drop, rows)
	}
	b.StopTimer()
	reportRate(b, rows*b.N, size*int64(b.N), total)
}

// BenchmarkIngestRealKafka compares, on one real single-node Kafka broker
// (scripts/kafka.sh), the ingest's file-to-Kafka rate with kcat producing the
// same events pre-serialized (key TAB value per line, the same four headers,
// snappy, acks=all): the target is at least half of kcat's rate.
// ATTND_BENCH_CHUNK, ATTND_BENCH_BATCH_TIMEOUT and ATTND_BENCH_COMPRESSION
// vary the ingest's kafka settings.
// Run: go test -run '^$' -bench IngestRealKafka -benchtime 1x ./internal/ingest
func BenchmarkIngestRealKafka(b *testing.B) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		b.Fatal("kcat is not installed (apt-get install -y kcat)")
	}
	addr := kafkatest.StartRealKafka(b)
	rows := benchRows()
	drop, size := benchDrop(b, rows)
	lines := serialized(b, drop)

	var ingestRate, kcatRate float64
	b.Run("ingest", func(b *testing.B) {
		var total time.Duration
		for i := 0; i < b.N; i++ {
			total += ingestOnce(b, addr, drop, rows)
		}
		ingestRate = reportRate(b, rows*b.N, size*int64(b.N), total)
	})
	b.Run("kcat", func(b *testing.B) {
		var total time.Duration
		for i := 0; i < b.N; i++ {
			topic := fmt.Sprintf("bench.kcat.%d.%d", time.Now().UnixNano(), i)
			createTopic(b, addr, topic, 6)
			// The same four headers as the ingest's messages (static values of the same sizes).
			cmd := exec.Command(kcat, "-P", "-b", addr, "-t", topic, "-K", "\t", "-z", benchCompression(),
				"-X", "acks=all", "-X", "linger.ms=10",
				"-H", "source_file="+drop, "-H", "sha256="+strings.Repeat("0", 64),
				"-H", "layout=telecop-report-csv", "-H", "event_id="+strings.Repeat("0", 32),
				"-l", lines)
			start := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("kcat: %v\n%s", err, out)
			}
			total += time.Since(start)
			if n := topicSize(b, addr, topic); n != int64(rows) {
				b.Fatalf("kcat wrote %d messages, want %d", n, rows)
			}
		}
		kcatRate = reportRate(b, rows*b.N, size*int64(b.N), total)
	})
	if kcatRate > 0 {
		b.Logf("ingest %.0f punches/s, kcat %.0f msgs/s: ingest/kcat = %.2f (target >= 0.5)", ingestRate, kcatRate, ingestRate/kcatRate)
	}
}

// serialized writes the drop's punches as kcat input lines (key TAB JSON).
func serialized(b *testing.B, drop string) string {
	b.Helper()
	f, err := os.Open(drop)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	out := filepath.Join(b.TempDir(), "events.tsv")
	w, err := os.Create(out)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	e := &lineEmitter{w: bw}
	if _, err := parsers.Parse(context.Background(), f, parsers.Request{Name: filepath.Base(drop), Options: parsekit.Options{Site: "hq", File: drop}}, e); err != nil {
		b.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return out
}

type lineEmitter struct{ w *bufio.Writer }

func (l *lineEmitter) Punch(p attendance.Punch) error {
	v, err := json.Marshal(&p)
	if err != nil {
		return err
	}
	l.w.WriteString(p.PartitionKey())
	l.w.WriteByte('\t')
	l.w.Write(v)
	return l.w.WriteByte('\n')
}

func (l *lineEmitter) Reject(attendance.Reject) error { return nil }

func createTopic(b *testing.B, addr, topic string, partitions int) {
	b.Helper()
	c := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 30 * time.Second}
	resp, err := c.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}}})
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range resp.Errors {
		if e != nil {
			b.Fatal(e)
		}
	}
}

// topicSize sums the high watermarks of a topic's partitions.
func topicSize(b *testing.B, addr, topic string) int64 {
	b.Helper()
	c := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 30 * time.Second}
	var reqs []kafka.OffsetRequest
	for p := 0; p < 6; p++ {
		reqs = append(reqs, kafka.LastOffsetOf(p))
	}
	lo, err := c.ListOffsets(context.Background(), &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, po := range lo.Topics[topic] {
		if po.Error != nil {
			b.Fatal(po.Error)
		}
		n += po.LastOffset
	}
	return n
}
