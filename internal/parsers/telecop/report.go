package telecop

import (
	"io"
	"strings"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
)

// reportRow is a row of the integrator's Excel report of tb_workresult.
type reportRow struct {
	At   string `csv:"인증일시"`
	Week string `csv:"요일"`
	Emp  string `csv:"사원번호"`
	Name string `csv:"이름"`
	Mode string `csv:"인증모드"`
}

// continuation: Excel wrapped a long name onto a row of its own.
func (r *reportRow) continuation() bool {
	return r.Name != "" && r.At == "" && r.Week == "" && r.Emp == "" && r.Mode == ""
}

// parseReport holds each punch back one row, so that a following
// name-continuation row can still be joined to its name (the event id does
// not depend on the name). Output stays in file order.
func parseReport(r io.Reader, opt parsekit.Options, emit parsekit.Emitter) error {
	opt = opt.WithDefaults()
	rows, err := parsekit.NewCSVRows[reportRow](r, opt, reportPreamble)
	if err != nil {
		return err
	}
	var days dayCaches
	var held attendance.Punch
	holding := false
	flush := func() error {
		if !holding {
			return nil
		}
		holding = false
		return emit.Punch(held)
	}
	for rows.Next() {
		row := rows.Row()
		reason := rows.Problem()
		if reason == "" && row.continuation() {
			if holding {
				held.Name += joinLines(row.Name)
				continue
			}
			reason = "name continuation row with no punch row above it"
		}
		if err := flush(); err != nil {
			return err
		}
		if reason == "" {
			at, err := days.isoDateTime(row.At, opt.Location)
			if err == nil {
				held, holding = opt.Build(parsekit.Row{
					Vendor: vendor, Layout: layoutReport, Line: rows.Line(), At: at,
					EmployeeNo: row.Emp, Name: joinLines(row.Name),
					Mode: mode(&opt, row.Mode), RawMode: row.Mode, AuthOK: true,
				}), true
				continue
			}
			reason = "인증일시: " + err.Error()
		}
		if err := emit.Reject(opt.Reject(vendor, layoutReport, rows.Line(), reason, rows.Raw())); err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return readErr(opt, rows.Err())
}

// joinLines undoes a line break Excel put inside a cell: Korean names have
// no inner spaces, so the pieces are joined as they are.
func joinLines(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' })
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return strings.Join(parts, "")
}
