package history

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	chschema "github.com/attendance-pipeline/attnd/schemas/clickhouse"
)

// Migration is one numbered file of schemas/clickhouse (or its cluster/).
type Migration struct {
	Version    uint32
	Name       string   // file name, e.g. 002_punches.sql
	Checksum   string   // hex SHA-256 of the file text
	Statements []string // with placeholders still in place
}

// Migrations returns the embedded migrations in version order: the single
// node files, or the cluster variant when cluster is true.
func Migrations(cluster bool) ([]Migration, error) {
	dir := "."
	if cluster {
		dir = "cluster"
	}
	entries, err := fs.ReadDir(chschema.FS, dir)
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var ms []Migration
	seen := map[uint32]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.ParseUint(num, 10, 32)
		if !ok || err != nil || v == 0 {
			return nil, fmt.Errorf("migration %s: name must be NNN_name.sql", e.Name())
		}
		if prev, dup := seen[uint32(v)]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, e.Name(), v)
		}
		seen[uint32(v)] = e.Name()
		b, err := fs.ReadFile(chschema.FS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(b)
		stmts := SplitStatements(string(b))
		if len(stmts) == 0 {
			return nil, fmt.Errorf("migration %s: no statement", e.Name())
		}
		ms = append(ms, Migration{Version: uint32(v), Name: e.Name(), Checksum: hex.EncodeToString(sum[:]), Statements: stmts})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	if len(ms) == 0 || ms[0].Version != 1 {
		return nil, fmt.Errorf("migrations: version 1 (schema_migrations) missing")
	}
	return ms, nil
}

// SplitStatements splits SQL text on semicolons that are outside quotes and
// comments; comments are dropped, empty statements skipped.
func SplitStatements(sql string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		s := strings.TrimSpace(cur.String())
		if s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
			cur.WriteByte('\n')
		case c == '\'' || c == '"' || c == '`':
			q := c
			cur.WriteByte(c)
			for i++; i < len(sql); i++ {
				cur.WriteByte(sql[i])
				if sql[i] == '\\' && i+1 < len(sql) {
					i++
					cur.WriteByte(sql[i])
					continue
				}
				if sql[i] == q {
					break
				}
			}
		case c == ';':
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}

// Expand replaces {db} with database and {cluster} with cluster in stmt.
// Server macros ({shard}, {replica}, {database}) are left alone.
func Expand(stmt, database, cluster string) string {
	stmt = strings.ReplaceAll(stmt, "{db}", database)
	if cluster != "" {
		stmt = strings.ReplaceAll(stmt, "{cluster}", cluster)
	}
	return stmt
}

// Migrate creates database if needed and applies the single-node migrations
// not yet recorded in database.schema_migrations. It is idempotent: a second
// run applies nothing. A recorded migration whose file changed since is an
// error. Statements are IF NOT EXISTS, so a run interrupted between a
// statement and its record is safe to repeat.
func Migrate(ctx context.Context, conn driver.Conn, database string) ([]Migration, error) {
	return migrate(ctx, conn, database, "")
}

// MigrateCluster is Migrate with the cluster variant, ON CLUSTER cluster
// (pass "{cluster}" to use the server macro).
func MigrateCluster(ctx context.Context, conn driver.Conn, database, cluster string) ([]Migration, error) {
	if cluster == "" {
		return nil, fmt.Errorf("migrate cluster: cluster name is empty")
	}
	return migrate(ctx, conn, database, cluster)
}

// migrate returns the migrations it applied in this run.
func migrate(ctx context.Context, conn driver.Conn, database, cluster string) ([]Migration, error) {
	if !identRe.MatchString(database) || database == "default" {
		return nil, fmt.Errorf("migrate: database %q must be a plain identifier other than default", database)
	}
	ms, err := Migrations(cluster != "")
	if err != nil {
		return nil, err
	}
	create := "CREATE DATABASE IF NOT EXISTS " + database
	if cluster != "" {
		create += " ON CLUSTER '" + cluster + "'"
	}
	if err := conn.Exec(ctx, create); err != nil {
		return nil, fmt.Errorf("migrate: create database %s: %w", database, err)
	}
	// Version 1 is the bookkeeping table itself: always run (IF NOT EXISTS).
	for _, s := range ms[0].Statements {
		if err := conn.Exec(ctx, Expand(s, database, cluster)); err != nil {
			return nil, fmt.Errorf("migrate %s: %w", ms[0].Name, err)
		}
	}
	applied := map[uint32]string{}
	rows, err := conn.Query(ctx, "SELECT version, checksum FROM "+database+".schema_migrations FINAL")
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v uint32
		var sum string
		if err := rows.Scan(&v, &sum); err != nil {
			rows.Close()
			return nil, fmt.Errorf("migrate: scan schema_migrations: %w", err)
		}
		applied[v] = sum
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	var done []Migration
	for _, m := range ms {
		if sum, ok := applied[m.Version]; ok {
			if sum != m.Checksum {
				return done, fmt.Errorf("migrate: %s was applied with checksum %s but the file now has %s: add a new migration instead of editing an applied one", m.Name, sum[:12], m.Checksum[:12])
			}
			continue
		}
		if m.Version != 1 {
			for i, s := range m.Statements {
				if err := conn.Exec(ctx, Expand(s, database, cluster)); err != nil {
					return done, fmt.Errorf("migrate %s statement %d: %w", m.Name, i+1, err)
				}
			}
		}
		// Record with a token of the version: a retried record is a no-op.
		rctx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
			"insert_deduplication_token": fmt.Sprintf("schema_migrations/%d/%s", m.Version, m.Checksum),
			"async_insert":               0,
		}))
		if err := conn.Exec(rctx, "INSERT INTO "+database+".schema_migrations (version, name, checksum) VALUES (?, ?, ?)", m.Version, m.Name, m.Checksum); err != nil {
			return done, fmt.Errorf("migrate: record %s: %w", m.Name, err)
		}
		done = append(done, m)
	}
	return done, nil
}
