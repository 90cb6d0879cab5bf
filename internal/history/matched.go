package history

import (
	"context"
	"fmt"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

// Matched is a punch resolved to one groupware account.
type Matched struct {
	Punch      attendance.Punch
	EmployeeNo string // the Daou employee number; Punch.EmployeeNo stays the vendor's
}

const matchedCols = "event_id, site, employee_no, vendor_employee_no, occurred_at, mode, raw_mode, device, auth_ok"

// InsertMatched inserts rows into matched_punches as one block deduplicated
// by token (the pusher derives it from the batch's Kafka offsets).
func (s *Store) InsertMatched(ctx context.Context, token string, rows []Matched) error {
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	id, site, emp, vemp, mode, raw, dev := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	at, ok := make([]time.Time, n), make([]bool, n)
	for i, r := range rows {
		p := &r.Punch
		id[i], site[i], emp[i], vemp[i], at[i] = p.EventID, p.Site, r.EmployeeNo, p.EmployeeNo, p.OccurredAt
		mode[i], raw[i], dev[i], ok[i] = string(p.Mode), p.RawMode, p.Device, p.AuthOK
	}
	return s.send(ctx, "matched_punches", matchedCols, token, columns{id, site, emp, vemp, at, mode, raw, dev, ok})
}

// MatchedPunches returns the matched punches of the given Daou employees with
// from <= occurred_at <= to, each event once (FINAL), ordered by employee,
// time and event id. The punches carry the Daou employee number in
// EmployeeNo, which is what derive needs, and OccurredAt in Asia/Seoul (over
// HTTP the driver hands back UTC; the instant is the same).
func (s *Store) MatchedPunches(ctx context.Context, employeeNos []string, from, to time.Time) ([]attendance.Punch, error) {
	if len(employeeNos) == 0 {
		return nil, nil
	}
	q := "SELECT event_id, site, employee_no, occurred_at, mode, raw_mode, device, auth_ok FROM " + s.db + ".matched_punches FINAL" +
		" WHERE employee_no IN ? AND occurred_at >= toDateTime(?) AND occurred_at < toDateTime(?)" +
		" ORDER BY employee_no, occurred_at, event_id"
	rows, err := s.conn.Query(ctx, q, employeeNos, from.Unix(), to.Unix()+1)
	if err != nil {
		return nil, fmt.Errorf("matched punches of %d people: %w", len(employeeNos), err)
	}
	defer rows.Close()
	var out []attendance.Punch
	for rows.Next() {
		var p attendance.Punch
		var mode string
		if err := rows.Scan(&p.EventID, &p.Site, &p.EmployeeNo, &p.OccurredAt, &mode, &p.RawMode, &p.Device, &p.AuthOK); err != nil {
			return nil, fmt.Errorf("matched punches: scan: %w", err)
		}
		p.Mode, p.OccurredAt = attendance.Mode(mode), p.OccurredAt.In(s.zone)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("matched punches: %w", err)
	}
	return out, nil
}
