package history

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/attendance-pipeline/attnd/internal/chtest"
)

// testConfig is a ClickHouseConfig for a fresh database on the test engine,
// spoken to over clickhouse-go's HTTP protocol.
func testConfig(t testing.TB) ClickHouseConfig {
	t.Helper()
	u, err := url.Parse(chtest.URL(t))
	if err != nil {
		t.Fatalf("chtest URL: %v", err)
	}
	db := chtest.Database(t)
	// Runs before chtest's own cleanup (LIFO): a plain DROP returns at once,
	// while chtest's DROP ... SYNC of a database with MergeTree tables was
	// seen to hang on the embedded engine; it then finds nothing to drop.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := chtest.Exec(ctx, chtest.URL(t), "DROP DATABASE IF EXISTS "+db); err != nil {
			t.Errorf("drop %s: %v", db, err)
		}
	})
	return ClickHouseConfig{Addr: []string{u.Host}, Protocol: "http", Database: db, DialTimeout: 10 * time.Second}
}

// openTest connects to the test engine over HTTP and migrates a fresh
// database; the connection is closed at cleanup.
func openTest(t testing.TB) (ClickHouseConfig, driver.Conn, *Store) {
	t.Helper()
	cfg := testConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := cfg.Open(ctx)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := Migrate(ctx, conn, cfg.Database); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	st, err := NewStore(conn, cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, conn, st
}

// count runs a SELECT count() style query and returns the single number.
func count(t testing.TB, conn driver.Conn, q string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}
