package history

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/attendance-pipeline/attnd/internal/publish/kafkatest"
)

// BenchmarkWriter measures the history writer from Kafka to the punches
// table: ATTND_BENCH_WRITER_ROWS punches (default 300,000) are put on an
// in-process kfake topic of 6 partitions first, then one writer with its
// defaults runs until every row is inserted. Reports rows/s. kfake and the
// engine run in the test process, so a CPU profile shows the writer beside
// them.
func BenchmarkWriter(b *testing.B) {
	n := 300_000
	if v, err := strconv.Atoi(os.Getenv("ATTND_BENCH_WRITER_ROWS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	ps := benchPunches(time.Date(2026, 3, 2, 8, 0, 0, 0, seoul), n)
	msgs := punchMessages(b, ps)
	var el time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		cfg, conn, st := openTest(b)
		_, addr := kafkatest.Fake(b, 1, 6, []string{TopicPunches, TopicRejects, TopicUnmatched, TopicFiles})
		kw := &kafka.Writer{Addr: kafka.TCP(addr), Topic: TopicPunches, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
			BatchTimeout: time.Millisecond, BatchSize: 1000, Compression: kafka.Snappy}
		for j := 0; j < n; j += 10_000 {
			if err := kw.WriteMessages(ctx, msgs[j:min(j+10_000, n)]...); err != nil {
				b.Fatal(err)
			}
		}
		kw.Close()
		w, err := NewWriter(st, WriterConfig{Brokers: []string{addr}, GroupID: "bench"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			b.Fatal(err)
		}
		rctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		b.StartTimer()
		start := time.Now()
		go func() { done <- w.Run(rctx) }()
		for w.Stats().Rows < int64(n) {
			select {
			case err := <-done:
				b.Fatalf("writer stopped: %v", err)
			case <-time.After(5 * time.Millisecond):
			}
		}
		el += time.Since(start)
		b.StopTimer()
		stop()
		<-done
		if got := count(b, conn, "SELECT count() FROM "+cfg.Database+".punches"); got != uint64(n) {
			b.Fatalf("%d rows, want %d", got, n)
		}
	}
	b.ReportMetric(float64(n*b.N)/el.Seconds(), "rows/s")
}
