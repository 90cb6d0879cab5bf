package chserver_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/attendance-pipeline/attnd/internal/chtest"
)

// clickhouse-go in HTTP mode against the front: batch insert, read back,
// dedup token on retry, and binary data holding blank lines (0a 0a), which
// the engine's inline-data path cuts.
func TestClickHouseGoRoundTrip(t *testing.T) {
	u, _ := url.Parse(chtest.URL(t))
	db := chtest.Database(t)
	conn, err := clickhouse.Open(&clickhouse.Options{Protocol: clickhouse.HTTP, Addr: []string{u.Host}, Auth: clickhouse.Auth{Database: db}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := conn.Exec(ctx, "CREATE TABLE "+db+".p (id String, site LowCardinality(String), at DateTime64(3, 'Asia/Seoul'), note Nullable(String), line UInt32) ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 100"); err != nil {
		t.Fatal(err)
	}
	insert := func(token string, n int) {
		t.Helper()
		c := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_deduplication_token": token}))
		b, err := conn.PrepareBatch(c, "INSERT INTO "+db+".p")
		if err != nil {
			t.Fatal(err)
		}
		base := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
		for i := range n {
			note := "line\n\nbreak" // blank line inside the data
			if err := b.Append(fmt.Sprintf("e%05d", i), "hq", base.Add(time.Duration(i)*time.Second), &note, uint32(0x0a0a+i%3)); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	insert("batch-1", 10000)
	insert("batch-1", 10000) // a retry of the same batch
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".p").Scan(&n); err != nil || n != 10000 {
		t.Fatalf("count = %d (%v), want 10000: the retry with the same token must add nothing", n, err)
	}
	var note string
	var at time.Time
	if err := conn.QueryRow(ctx, "SELECT note, at FROM "+db+".p WHERE id = 'e00002'").Scan(&note, &at); err != nil {
		t.Fatal(err)
	}
	if note != "line\n\nbreak" || !at.Equal(time.Date(2026, 3, 2, 8, 0, 2, 0, time.UTC)) {
		t.Errorf("read back %q %v", note, at)
	}
	if err := conn.Exec(ctx, "SELECT * FROM "+db+".nope"); err == nil || !strings.Contains(err.Error(), "60") {
		t.Errorf("unknown table error = %v, want code 60", err)
	}
}

// BenchmarkInsert measures rows/s through clickhouse-go HTTP into the engine.
func BenchmarkInsert(b *testing.B) {
	u, _ := url.Parse(chtest.URL(b))
	db := chtest.Database(b)
	conn, err := clickhouse.Open(&clickhouse.Options{Protocol: clickhouse.HTTP, Addr: []string{u.Host}, Auth: clickhouse.Auth{Database: db}})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	if err := conn.Exec(ctx, "CREATE TABLE "+db+".p (event_id String, site LowCardinality(String), occurred_at DateTime('Asia/Seoul'), employee_no String, mode LowCardinality(String), auth_ok Bool) ENGINE = ReplacingMergeTree ORDER BY (site, employee_no, toDate(occurred_at), event_id)"); err != nil {
		b.Fatal(err)
	}
	const rows = 100_000
	base := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	b.ResetTimer()
	for i := range b.N {
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".p")
		if err != nil {
			b.Fatal(err)
		}
		for r := range rows {
			batch.Append(fmt.Sprintf("%08x%08x", i, r), "hq", base.Add(time.Duration(r)*time.Second), fmt.Sprintf("%08d", 120000+r%7000), "in", true)
		}
		if err := batch.Send(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}
