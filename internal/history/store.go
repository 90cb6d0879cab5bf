package history

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

// Store reads and writes the history tables of one database.
type Store struct {
	conn driver.Conn
	db   string
	zone *time.Location // Asia/Seoul: the column zone, applied to every time read
}

// NewStore returns a Store on database (as created by Migrate).
func NewStore(conn driver.Conn, database string) (*Store, error) {
	if !identRe.MatchString(database) || database == "default" {
		return nil, fmt.Errorf("history store: database %q must be a plain identifier other than default", database)
	}
	zone, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		return nil, fmt.Errorf("history store: %w", err)
	}
	return &Store{conn: conn, db: database, zone: zone}, nil
}

// Conn is the connection the store uses.
func (s *Store) Conn() driver.Conn { return s.conn }

// Database is the database the store uses.
func (s *Store) Database() string { return s.db }

// Daily is a derived working day as stored in daily_attendance: the record,
// its version (higher wins; e.g. the derivation time in Unix nanoseconds) and
// the hash of its pushed content.
type Daily struct {
	attendance.DailyRecord
	Version     uint64
	ContentHash string
}

// insertCtx carries the dedup token of one insert. async_insert is forced off:
// the token must apply to this synchronous block. optimize_on_insert is off:
// collapsing a block's duplicates on insert costs a sort of every block
// (insert throughput 260k -> 460k rows/s measured) and gains nothing, since
// every read is FINAL or argMax and background merges collapse them anyway.
func insertCtx(ctx context.Context, token string) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
		"insert_deduplication_token": token,
		"async_insert":               0,
		"optimize_on_insert":         0,
	}))
}

// contentToken is a dedup token for inserts that have no Kafka offsets: a
// hash of the rows, so only the identical batch is ever deduplicated.
func contentToken(table string, rows any) (string, error) {
	b, err := json.Marshal(rows)
	if err != nil {
		return "", fmt.Errorf("token for %s: %w", table, err)
	}
	sum := sha256.Sum256(b)
	return table + "/sha256:" + hex.EncodeToString(sum[:16]), nil
}

type columns []any

// send inserts the columns (one Go slice per column, in cols order) as one
// block with the given dedup token.
func (s *Store) send(ctx context.Context, table, cols, token string, data columns) error {
	ctx = insertCtx(ctx, token)
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.db+"."+table+" ("+cols+")")
	if err != nil {
		return fmt.Errorf("insert into %s: prepare: %w", table, err)
	}
	defer b.Close()
	for i, c := range data {
		if err := b.Column(i).Append(c); err != nil {
			return fmt.Errorf("insert into %s: column %d: %w", table, i, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert into %s (token %s): %w", table, token, err)
	}
	return nil
}

const punchCols = "event_id, vendor, layout, site, occurred_at, employee_no, name, card_masked, card_hash, mode, raw_mode, device, auth_ok, source_file, source_line"

// InsertPunches inserts ps as one block deduplicated by token (an identical
// token within the dedup window adds nothing).
func (s *Store) InsertPunches(ctx context.Context, token string, ps []attendance.Punch) error {
	var c punchColumns
	c.grow(len(ps))
	for i := range ps {
		c.add(&ps[i])
	}
	return s.insertPunchColumns(ctx, token, &c)
}

// punchColumns are punches as the columns of the punches table (punchCols
// order), built one punch at a time.
type punchColumns struct {
	id, emp, name, cm, ch, rawMode        []string
	vendor, layout, site, mode, dev, file lowCard
	at                                    []time.Time
	ok                                    []bool
	line                                  []uint32
}

// lowCard is a LowCardinality(String) column in the form clickhouse-go takes
// without an allocation per row: its LowCardinality Append walks any slice
// by reflection and boxes every string into an interface (five columns, 50
// million small allocations in a 10 M backfill); the values of a []any are
// boxed already, and each distinct value is boxed once here.
type lowCard struct {
	vals  []any
	boxed map[string]any
	last  string
	lastB any
}

func (c *lowCard) add(s string) {
	if c.lastB == nil || s != c.last {
		b, ok := c.boxed[s]
		if !ok {
			if c.boxed == nil {
				c.boxed = map[string]any{}
			}
			b = s
			c.boxed[s] = b
		}
		c.last, c.lastB = s, b
	}
	c.vals = append(c.vals, c.lastB)
}

func (c *punchColumns) len() int { return len(c.id) }

func (c *punchColumns) grow(n int) {
	for _, col := range []*[]string{&c.id, &c.emp, &c.name, &c.cm, &c.ch, &c.rawMode} {
		*col = slices.Grow(*col, n)
	}
	for _, col := range []*lowCard{&c.vendor, &c.layout, &c.site, &c.mode, &c.dev, &c.file} {
		col.vals = slices.Grow(col.vals, n)
	}
	c.at, c.ok, c.line = slices.Grow(c.at, n), slices.Grow(c.ok, n), slices.Grow(c.line, n)
}

func (c *punchColumns) add(p *attendance.Punch) {
	c.id = append(c.id, p.EventID)
	c.vendor.add(p.Vendor)
	c.layout.add(p.Layout)
	c.site.add(p.Site)
	c.at, c.emp, c.name, c.cm, c.ch = append(c.at, p.OccurredAt), append(c.emp, p.EmployeeNo), append(c.name, p.Name), append(c.cm, p.CardMasked), append(c.ch, p.CardHash)
	c.mode.add(string(p.Mode))
	c.rawMode = append(c.rawMode, p.RawMode)
	c.dev.add(p.Device)
	c.ok = append(c.ok, p.AuthOK)
	c.file.add(p.SourceFile)
	c.line = append(c.line, clampU32(p.SourceLine))
}

func (s *Store) insertPunchColumns(ctx context.Context, token string, c *punchColumns) error {
	if c.len() == 0 {
		return nil
	}
	return s.send(ctx, "punches", punchCols, token, columns{c.id, c.vendor.vals, c.layout.vals, c.site.vals, c.at, c.emp, c.name, c.cm, c.ch, c.mode.vals, c.rawMode, c.dev.vals, c.ok, c.file.vals, c.line})
}

// InsertRejects inserts rs as one block deduplicated by token.
func (s *Store) InsertRejects(ctx context.Context, token string, rs []attendance.Reject) error {
	if len(rs) == 0 {
		return nil
	}
	n := len(rs)
	id, vendor, layout, site, file, reason, raw := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	line := make([]uint32, n)
	for i, r := range rs {
		id[i], vendor[i], layout[i], site[i], file[i], line[i], reason[i], raw[i] = r.RejectID, r.Vendor, r.Layout, r.Site, r.File, clampU32(r.Line), r.Reason, r.Raw
	}
	return s.send(ctx, "rejects", "reject_id, vendor, layout, site, file, line, reason, raw", token, columns{id, vendor, layout, site, file, line, reason, raw})
}

// InsertUnmatched inserts us as one block deduplicated by token.
func (s *Store) InsertUnmatched(ctx context.Context, token string, us []attendance.Unmatched) error {
	if len(us) == 0 {
		return nil
	}
	n := len(us)
	id, site, vendor, emp, name, cm, outcome, reason := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	at := make([]time.Time, n)
	cand := make([][]string, n)
	for i, u := range us {
		id[i], site[i], vendor[i], emp[i], name[i], cm[i] = u.EventID, u.Site, u.Vendor, u.EmployeeNo, u.Name, u.CardMasked
		at[i], outcome[i], reason[i] = u.OccurredAt, u.Outcome, u.Reason
		cand[i] = u.Candidates
		if cand[i] == nil {
			cand[i] = []string{}
		}
	}
	return s.send(ctx, "unmatched", "event_id, site, vendor, employee_no, name, card_masked, occurred_at, outcome, candidates, reason", token,
		columns{id, site, vendor, emp, name, cm, at, outcome, cand, reason})
}

// InsertFiles inserts fs as one block deduplicated by token.
func (s *Store) InsertFiles(ctx context.Context, token string, fs []attendance.FileRecord) error {
	if len(fs) == 0 {
		return nil
	}
	n := len(fs)
	source, path, sha, state, site, vendor, layout, enc, reason := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	size := make([]int64, n)
	mtime, at := make([]time.Time, n), make([]time.Time, n)
	punches, rejects := make([]uint32, n), make([]uint32, n)
	for i, f := range fs {
		source[i], path[i], size[i], mtime[i], sha[i], state[i] = f.Source, f.Path, f.Size, f.ModTime, f.SHA256, f.State
		site[i], vendor[i], layout[i], enc[i] = f.Site, f.Vendor, f.Layout, f.Encoding
		punches[i], rejects[i], reason[i], at[i] = clampU32(f.Punches), clampU32(f.Rejects), f.Reason, f.At
	}
	return s.send(ctx, "files", "source, path, size, mtime, sha256, state, site, vendor, layout, encoding, punches, rejects, reason, at", token,
		columns{source, path, size, mtime, sha, state, site, vendor, layout, enc, punches, rejects, reason, at})
}

// InsertDaily stores derived days in daily_attendance; for one person and
// day the row with the highest Version is the current one. A retried call
// with the same records adds nothing (content-derived dedup token).
func (s *Store) InsertDaily(ctx context.Context, ds []Daily) error {
	if len(ds) == 0 {
		return nil
	}
	n := len(ds)
	site, emp, hash := make([]string, n), make([]string, n), make([]string, n)
	day := make([]time.Time, n)
	in, out := make([]*time.Time, n), make([]*time.Time, n)
	flags := make([][]string, n)
	ver := make([]uint64, n)
	for i, d := range ds {
		t, err := time.Parse(time.DateOnly, d.WorkingDay)
		if err != nil {
			return fmt.Errorf("insert daily %s/%s: working_day: %w", d.Site, d.EmployeeNo, err)
		}
		site[i], emp[i], day[i], in[i], out[i], hash[i], ver[i] = d.Site, d.EmployeeNo, t, d.ClockIn, d.ClockOut, d.ContentHash, d.Version
		flags[i] = d.Flags
		if flags[i] == nil {
			flags[i] = []string{}
		}
	}
	token, err := contentToken("daily_attendance", ds)
	if err != nil {
		return err
	}
	return s.send(ctx, "daily_attendance", "site, employee_no, working_day, clock_in, clock_out, flags, content_hash, version", token,
		columns{site, emp, day, in, out, flags, hash, ver})
}

// InsertPushLog appends push outcomes to push_log. A retried call with the
// same results adds nothing.
func (s *Store) InsertPushLog(ctx context.Context, rs []attendance.PushResult) error {
	if len(rs) == 0 {
		return nil
	}
	n := len(rs)
	site, emp, hash, payload, outcome, code, msg := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	day, at := make([]time.Time, n), make([]time.Time, n)
	status, attempts := make([]uint16, n), make([]uint16, n)
	for i, r := range rs {
		t, err := time.Parse(time.DateOnly, r.WorkingDay)
		if err != nil {
			return fmt.Errorf("insert push log %s/%s: working_day: %w", r.Site, r.EmployeeNo, err)
		}
		site[i], emp[i], day[i], hash[i], payload[i], outcome[i] = r.Site, r.EmployeeNo, t, r.ContentHash, r.Payload, r.Outcome
		status[i], code[i], msg[i], attempts[i], at[i] = clampU16(r.HTTPStatus), r.Code, r.Message, clampU16(r.Attempts), r.At
	}
	token, err := contentToken("push_log", rs)
	if err != nil {
		return err
	}
	return s.send(ctx, "push_log", "site, employee_no, working_day, content_hash, payload, outcome, http_status, code, message, attempts, at", token,
		columns{site, emp, day, hash, payload, outcome, status, code, msg, attempts, at})
}

// PunchesFor returns the punches of the given people at site with
// from <= occurred_at < to, read with FINAL (each event once), ordered by
// employee, time and event id. OccurredAt comes back in Asia/Seoul.
func (s *Store) PunchesFor(ctx context.Context, site string, employeeNos []string, from, to time.Time) ([]attendance.Punch, error) {
	if len(employeeNos) == 0 {
		return nil, nil
	}
	q := "SELECT " + punchCols + " FROM " + s.db + ".punches FINAL" +
		" WHERE site = ? AND employee_no IN ? AND occurred_at >= toDateTime(?) AND occurred_at < toDateTime(?)" +
		" ORDER BY employee_no, occurred_at, event_id"
	rows, err := s.conn.Query(ctx, q, site, employeeNos, from.Unix(), to.Unix())
	if err != nil {
		return nil, fmt.Errorf("punches for %s (%d people): %w", site, len(employeeNos), err)
	}
	defer rows.Close()
	var out []attendance.Punch
	for rows.Next() {
		var p attendance.Punch
		var mode string
		var line uint32
		if err := rows.Scan(&p.EventID, &p.Vendor, &p.Layout, &p.Site, &p.OccurredAt, &p.EmployeeNo, &p.Name, &p.CardMasked, &p.CardHash,
			&mode, &p.RawMode, &p.Device, &p.AuthOK, &p.SourceFile, &line); err != nil {
			return nil, fmt.Errorf("punches for %s: scan: %w", site, err)
		}
		p.Mode, p.SourceLine, p.OccurredAt = attendance.Mode(mode), int(line), p.OccurredAt.In(s.zone)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("punches for %s: %w", site, err)
	}
	return out, nil
}

func clampU32(n int) uint32 {
	if n < 0 {
		return 0
	}
	if n > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(n)
}

func clampU16(n int) uint16 {
	if n < 0 {
		return 0
	}
	if n > 1<<16-1 {
		return 1<<16 - 1
	}
	return uint16(n)
}
