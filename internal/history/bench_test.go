package history

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

// BenchmarkInsertPunches measures history insert throughput: punches through
// Store.InsertPunches (clickhouse-go, HTTP, Native blocks) into the embedded
// engine, one block per insert as the writer sends them. Every iteration
// inserts other events (so no merge collapses them) and only the inserts are
// timed. Reports rows/s.
func BenchmarkInsertPunches(b *testing.B) {
	for _, size := range []int{1_000, 10_000, 50_000, 200_000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			ctx := context.Background()
			cfg, conn, st := openTest(b)
			day := time.Date(2026, 3, 2, 8, 0, 0, 0, seoul)
			var el time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				ps := benchPunches(day.Add(time.Duration(i*size)*37*time.Second), size)
				b.StartTimer()
				start := time.Now()
				if err := st.InsertPunches(ctx, fmt.Sprintf("bench/%d/%d", size, i), ps); err != nil {
					b.Fatal(err)
				}
				el += time.Since(start)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*size)/el.Seconds(), "rows/s")
			if n := count(b, conn, "SELECT count() FROM "+cfg.Database+".punches FINAL"); n != uint64(b.N*size) {
				b.Fatalf("%d rows stored, want %d", n, b.N*size)
			}
		})
	}
}

// benchPunches is testPunches without the byte pair "\n\n" in any number
// (source_line, occurred_at), which the embedded engine's inline INSERT
// data currently cannot carry (TestInsertBinaryNewlines): the benchmark
// measures throughput, that test the defect.
func benchPunches(start time.Time, n int) []attendance.Punch {
	ps := testPunches("hq", start, n)
	for i := range ps {
		ps[i].SourceLine = i%1000 + 1
		for u := uint32(ps[i].OccurredAt.Unix()); hasLFLF(u); u = uint32(ps[i].OccurredAt.Unix()) {
			ps[i].OccurredAt = ps[i].OccurredAt.Add(time.Second)
		}
	}
	return ps
}

func hasLFLF(u uint32) bool {
	for s := 0; s <= 16; s += 8 {
		if u>>s&0xffff == 0x0a0a {
			return true
		}
	}
	return false
}
