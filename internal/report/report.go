// Package report runs the attendance analytics on the ClickHouse history and
// renders them as an aligned terminal table, CSV or JSON.
//
// Reports: daily (first in, last out per person and day, from daily_attendance
// with a fallback to punches), late (first in after a threshold), missing
// (days flagged missing_in/missing_out), weekly-hours (ISO weeks from Monday,
// gross hours, weeks over Korea's 52 h flagged), gates (punches per device and
// hour of day) and unmatched (people the matcher could not resolve, with
// counts and last seen). All SQL is in queries.go and is the same for a
// single node and a cluster. Reports only read; they never change the history.
package report

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Params select what a report covers. From and To are inclusive local dates
// (YYYY-MM-DD); Site and Employee are exact filters, empty for all.
type Params struct {
	From, To  string
	Site      string
	Employee  string
	LateAfter string // HH:MM or HH:MM:SS, local time; default 09:00 (late only)
	// LateUntil: a first clock-in at or after it starts another shift
	// (evening, night) and is not a late day shift; default 18:00.
	LateUntil string
	// DayStart and MaxShift are the shift rules of the punches fallback
	// (days the pusher did not derive); defaults 04:00 and 16h as in derive.
	DayStart time.Duration
	MaxShift time.Duration
}

// bound are the query parameters normalize computes.
type bound struct{ lateSecs, lateUntilSecs int64 }

// Table is a report result: column names and rows of cells. A cell is nil,
// string, int64, float64 or bool.
type Table struct {
	Name    string
	Columns []string
	Rows    [][]any
}

// Names lists the reports in a stable order.
func Names() []string {
	ns := make([]string, 0, len(queries))
	for n := range queries {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// normalize checks p and fills defaults; weekly-hours widens the range to
// whole ISO weeks (Monday to Sunday).
func normalize(name string, p Params) (Params, bound, error) {
	from, err := time.Parse(time.DateOnly, p.From)
	if err != nil {
		return p, bound{}, fmt.Errorf("report %s: --from %q: want YYYY-MM-DD", name, p.From)
	}
	to, err := time.Parse(time.DateOnly, p.To)
	if err != nil {
		return p, bound{}, fmt.Errorf("report %s: --to %q: want YYYY-MM-DD", name, p.To)
	}
	if to.Before(from) {
		return p, bound{}, fmt.Errorf("report %s: --to %s is before --from %s", name, p.To, p.From)
	}
	if name == "weekly-hours" {
		from = from.AddDate(0, 0, -((int(from.Weekday()) + 6) % 7))
		to = to.AddDate(0, 0, (7-int(to.Weekday()))%7)
		p.From, p.To = from.Format(time.DateOnly), to.Format(time.DateOnly)
	}
	lateSecs, err := clockSecs(p.LateAfter, "09:00")
	if err != nil {
		return p, bound{}, fmt.Errorf("report %s: --late-after %q: want HH:MM", name, p.LateAfter)
	}
	untilSecs, err := clockSecs(p.LateUntil, "18:00")
	if err != nil {
		return p, bound{}, fmt.Errorf("report %s: --late-until %q: want HH:MM", name, p.LateUntil)
	}
	if name == "late" && untilSecs <= lateSecs {
		return p, bound{}, fmt.Errorf("report late: --late-until %s is not after --late-after %s", p.LateUntil, p.LateAfter)
	}
	if p.DayStart == 0 {
		p.DayStart = 4 * time.Hour
	}
	if p.MaxShift == 0 {
		p.MaxShift = 16 * time.Hour
	}
	return p, bound{lateSecs, untilSecs}, nil
}

// clockSecs parses HH:MM or HH:MM:SS (def when empty) as seconds after midnight.
func clockSecs(s, def string) (int64, error) {
	if s == "" {
		s = def
	}
	t, err := time.Parse("15:04", s)
	if err != nil {
		if t, err = time.Parse("15:04:05", s); err != nil {
			return 0, err
		}
	}
	return int64(t.Hour()*3600 + t.Minute()*60 + t.Second()), nil
}

// SQL returns the report's query for database, with its placeholders.
func SQL(name, database string) (string, error) {
	q, ok := queries[name]
	if !ok {
		return "", fmt.Errorf("unknown report %q (want one of %s)", name, strings.Join(Names(), ", "))
	}
	return strings.ReplaceAll(q, "{db}", database), nil
}

// Run runs report name on database.
func Run(ctx context.Context, conn driver.Conn, database, name string, p Params) (*Table, error) {
	q, err := SQL(name, database)
	if err != nil {
		return nil, err
	}
	p, b, err := normalize(name, p)
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, q,
		clickhouse.Named("from", p.From), clickhouse.Named("to", p.To),
		clickhouse.Named("site", p.Site), clickhouse.Named("employee", p.Employee),
		clickhouse.Named("late_secs", b.lateSecs), clickhouse.Named("late_until_secs", b.lateUntilSecs),
		clickhouse.Named("day_start_secs", int64(p.DayStart/time.Second)), clickhouse.Named("max_shift_secs", int64(p.MaxShift/time.Second)))
	if err != nil {
		return nil, fmt.Errorf("report %s: query: %w", name, err)
	}
	defer rows.Close()
	t := &Table{Name: name, Columns: rows.Columns()}
	types := rows.ColumnTypes()
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("report %s: scan: %w", name, err)
		}
		row := make([]any, len(dest))
		for i, d := range dest {
			row[i] = cell(reflect.ValueOf(d).Elem())
		}
		t.Rows = append(t.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report %s: %w", name, err)
	}
	return t, nil
}

// cell turns a scanned value into nil, string, int64, float64 or bool.
func cell(v reflect.Value) any {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int64(v.Uint())
	case reflect.Float32, reflect.Float64:
		return v.Float()
	}
	if t, ok := v.Interface().(time.Time); ok {
		return t.Format(time.DateTime)
	}
	return fmt.Sprint(v.Interface())
}
