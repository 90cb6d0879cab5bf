package history

import (
	"context"
	"strings"
	"testing"
)

// TestMigrateEngine applies every migration to the embedded engine, checks the
// tables and their engines, the records in schema_migrations, and that a
// second run is a no-op.
func TestMigrateEngine(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	conn, err := cfg.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ms, err := Migrations(false)
	if err != nil {
		t.Fatal(err)
	}
	done, err := Migrate(ctx, conn, cfg.Database)
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if len(done) != len(ms) {
		t.Fatalf("first run applied %d migrations, want %d", len(done), len(ms))
	}
	rows, err := conn.Query(ctx, "SELECT name, engine FROM system.tables WHERE database = ? ORDER BY name", cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var n, e string
		if err := rows.Scan(&n, &e); err != nil {
			t.Fatal(err)
		}
		got[n] = e
	}
	rows.Close()
	want := map[string]string{
		"schema_migrations": "ReplacingMergeTree", "punches": "ReplacingMergeTree", "rejects": "ReplacingMergeTree",
		"unmatched": "ReplacingMergeTree", "files": "ReplacingMergeTree", "daily_attendance": "ReplacingMergeTree",
		"push_log": "ReplacingMergeTree", "matched_punches": "ReplacingMergeTree",
	}
	for n, e := range want {
		if got[n] != e {
			t.Errorf("table %s: engine %q, want %q (tables: %v)", n, got[n], e, got)
		}
	}
	// Every data table deduplicates retried inserts on a single node; the
	// per-punch tables merge with the wider selector base (009).
	for n := range want {
		if n == "schema_migrations" {
			continue
		}
		var ddl string
		if err := conn.QueryRow(ctx, "SELECT create_table_query FROM system.tables WHERE database = ? AND name = ?", cfg.Database, n).Scan(&ddl); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(ddl, "non_replicated_deduplication_window = 10000") {
			t.Errorf("%s: no non_replicated_deduplication_window: %s", n, ddl)
		}
		if (n == "punches" || n == "matched_punches") && !strings.Contains(ddl, "merge_selector_base = 10") {
			t.Errorf("%s: merge_selector_base not set: %s", n, ddl)
		}
	}
	if n := count(t, conn, "SELECT count() FROM "+cfg.Database+".schema_migrations FINAL"); n != uint64(len(ms)) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(ms))
	}
	var maxV uint32
	var sum string
	if err := conn.QueryRow(ctx, "SELECT version, checksum FROM "+cfg.Database+".schema_migrations FINAL ORDER BY version DESC LIMIT 1").Scan(&maxV, &sum); err != nil {
		t.Fatal(err)
	}
	if last := ms[len(ms)-1]; maxV != last.Version || sum != last.Checksum {
		t.Errorf("last record %d/%s, want %d/%s", maxV, sum, last.Version, last.Checksum)
	}

	again, err := Migrate(ctx, conn, cfg.Database)
	if err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if len(again) != 0 {
		t.Errorf("second run applied %d migrations, want 0", len(again))
	}
	// Not even the bookkeeping insert is repeated: no extra (pre-merge) rows.
	if n := count(t, conn, "SELECT count() FROM "+cfg.Database+".schema_migrations"); n != uint64(len(ms)) {
		t.Errorf("schema_migrations has %d raw rows after two runs, want %d", n, len(ms))
	}

	// A changed file of an applied migration is refused.
	if err := conn.Exec(ctx, "INSERT INTO "+cfg.Database+".schema_migrations (version, name, checksum) VALUES (2, '002_punches.sql', 'deadbeefdeadbeef')"); err != nil {
		t.Fatal(err)
	}
	if _, err := Migrate(ctx, conn, cfg.Database); err == nil || !strings.Contains(err.Error(), "002_punches.sql was applied with checksum deadbeefdead") {
		t.Errorf("migrate after a checksum change: err %v, want the checksum error", err)
	}
}

// TestClusterMigrationsParse runs every statement of the cluster variant
// through the engine's parser (EXPLAIN AST): the engine has no cluster, so
// the statements cannot run, but any syntax error is caught.
func TestClusterMigrationsParse(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	conn, err := cfg.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ms, err := Migrations(true)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range ms {
		for i, s := range m.Statements {
			q := "EXPLAIN AST " + Expand(s, cfg.Database, "attnd_cluster")
			rows, err := conn.Query(ctx, q)
			if err != nil {
				t.Errorf("%s statement %d does not parse: %v\n%s", m.Name, i+1, err, s)
				continue
			}
			var ast []string
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				ast = append(ast, line)
			}
			rows.Close()
			want := "CreateQuery"
			if strings.HasPrefix(s, "ALTER") {
				want = "AlterQuery"
			}
			if len(ast) == 0 || !strings.Contains(ast[0], want) {
				t.Errorf("%s statement %d: AST %q, want a %s", m.Name, i+1, ast, want)
			}
			n++
		}
	}
	if n < 2*len(ms)-1 {
		t.Errorf("parsed %d statements of %d cluster migrations, want local + distributed tables", n, len(ms))
	}
	// The parser check has teeth: a broken statement is refused.
	if _, err := conn.Query(ctx, "EXPLAIN AST CREATE TABLE x.y ON CLUSTER 'c' (a String ENGINE = Memory"); err == nil {
		t.Error("EXPLAIN AST of a broken statement succeeded")
	}
}
