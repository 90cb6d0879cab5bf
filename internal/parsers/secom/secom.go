// Package secom parses S-1 Secom exports: secom-alarm-csv (T_SECOM_ALARM, one
// row per tag) and secom-workhistory-csv (T_SECOM_WORKHISTORY, Secom's own
// daily result).
//
// Guarantees (vendor-exports.md §6): every data row becomes punches or one
// reject, in file order, with its physical line; a missing or wrong header is
// a *parsekit.FileError; Sabun is kept as written (trimmed); the raw CardNo
// never appears in any punch or reject (reasons included); Flag1 meanings
// come from opt.Codes; memory stays flat whatever the file size.
package secom

import (
	"io"
	"strings"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
)

const (
	vendor         = "secom"
	layoutAlarm    = "secom-alarm-csv"
	layoutWorkHist = "secom-workhistory-csv"
)

// Layouts returns the Secom layouts.
func Layouts() []parsekit.Layout {
	return []parsekit.Layout{
		{
			Name: layoutAlarm, Vendor: vendor,
			Sniff:    func(head string) bool { return parsekit.SniffCSVHeader(head, 0, parsekit.CSVColumns[alarmRow]()...) },
			FileHint: func(name string) bool { return hasWord(name, "alarm") },
			Parse:    parseAlarm,
		},
		{
			Name: layoutWorkHist, Vendor: vendor,
			Sniff:    func(head string) bool { return parsekit.SniffCSVHeader(head, 0, parsekit.CSVColumns[workRow]()...) },
			FileHint: func(name string) bool { return hasWord(name, "workhistory") },
			Parse:    parseWorkHistory,
		},
	}
}

func hasWord(name, w string) bool { return strings.Contains(strings.ToLower(name), w) }

// alarmRow holds the T_SECOM_ALARM columns the layout uses; the others
// (alarm-acknowledge fields shared with security alarms) may be present or not.
type alarmRow struct {
	ATime  string `csv:"ATime"`
	EqCode string `csv:"EqCode"`
	CardNo string `csv:"CardNo"`
	Name   string `csv:"Name"`
	Flag1  string `csv:"Flag1"`
	Sabun  string `csv:"Sabun"`
}

func parseAlarm(r io.Reader, opt parsekit.Options, emit parsekit.Emitter) error {
	opt = opt.WithDefaults()
	rows, err := parsekit.NewCSVRows[alarmRow](r, opt, 0)
	if err != nil {
		return err
	}
	var days dayCaches
	for rows.Next() {
		row := rows.Row()
		if p := rows.Problem(); p != "" {
			if err := reject(opt, emit, layoutAlarm, rows, p, row.CardNo); err != nil {
				return err
			}
			continue
		}
		at, err := days.stamp14(row.ATime, opt.Location)
		if err != nil {
			if err := reject(opt, emit, layoutAlarm, rows, "ATime: "+err.Error(), row.CardNo); err != nil {
				return err
			}
			continue
		}
		mode, ok := opt.Codes.SecomFlag1Modes[row.Flag1]
		if !ok {
			mode = opt.Codes.SecomDefaultMode
		}
		p := opt.Build(parsekit.Row{
			Vendor: vendor, Layout: layoutAlarm, Line: rows.Line(), At: at,
			EmployeeNo: row.Sabun, Name: row.Name, Card: row.CardNo,
			Mode: mode, RawMode: row.Flag1, Device: row.EqCode, AuthOK: true,
		})
		if err := emit.Punch(p); err != nil {
			return err
		}
	}
	return readErr(opt, rows.Err())
}

type workRow struct {
	WorkDate string `csv:"WorkDate"`
	Sabun    string `csv:"Sabun"`
	Name     string `csv:"Name"`
	CardNo   string `csv:"CardNo"`
	WSTime   string `csv:"WSTime"`
	WCTime   string `csv:"WCTime"`
}

// parseWorkHistory emits an in punch for WSTime and an out punch for WCTime.
// An empty stamp is no punch (Secom writes ” for "did not come"), so a row
// with neither is an absent day, not a reject. A WCTime on the next day keeps
// its date: midnight crossings are the matcher's business.
func parseWorkHistory(r io.Reader, opt parsekit.Options, emit parsekit.Emitter) error {
	opt = opt.WithDefaults()
	rows, err := parsekit.NewCSVRows[workRow](r, opt, 0)
	if err != nil {
		return err
	}
	var w workChecker
	for rows.Next() {
		row := rows.Row()
		reason := rows.Problem()
		if reason == "" {
			reason = w.check(row, opt.Location)
		}
		if reason != "" {
			if err := reject(opt, emit, layoutWorkHist, rows, reason, row.CardNo); err != nil {
				return err
			}
			continue
		}
		for i, s := range [...]struct {
			col, val string
			mode     attendance.Mode
		}{{"WSTime", row.WSTime, attendance.ModeIn}, {"WCTime", row.WCTime, attendance.ModeOut}} {
			if s.val == "" {
				continue
			}
			p := opt.Build(parsekit.Row{
				Vendor: vendor, Layout: layoutWorkHist, Line: rows.Line(), At: w.at[i],
				EmployeeNo: row.Sabun, Name: row.Name, Card: row.CardNo,
				Mode: s.mode, RawMode: s.col, AuthOK: true,
			})
			if err := emit.Punch(p); err != nil {
				return err
			}
		}
	}
	return readErr(opt, rows.Err())
}

// workChecker validates a whole row first, so a row is either all punches
// or one reject, and keeps the times of its stamps for the punches.
type workChecker struct {
	at   [2]time.Time // WSTime, WCTime of the row checked last
	days dayCaches
}

func (w *workChecker) check(row *workRow, loc *time.Location) string {
	if err := w.days.date(row.WorkDate, loc); err != nil {
		return "WorkDate: " + err.Error()
	}
	for i, s := range [...][2]string{{"WSTime", row.WSTime}, {"WCTime", row.WCTime}} {
		if s[1] == "" {
			continue
		}
		at, err := w.days.stamp14(s[1], loc)
		if err != nil {
			return s[0] + ": " + err.Error()
		}
		w.at[i] = at
	}
	return ""
}

// dayCaches is the parse's parsekit.DayCache with Secom's two uses of it.
type dayCaches parsekit.DayCache

// stamp14 is parsekit.Stamp14 through the cache: a well-formed stamp of a
// cached day is its midnight plus the clock; anything else (a day not
// cached yet, a bad stamp) goes to Stamp14, which gives the same time or
// the error.
func (d *dayCaches) stamp14(s string, loc *time.Location) (time.Time, error) {
	if len(s) == 14 && allDigits(s) {
		if t, ok := (*parsekit.DayCache)(d).Stamp14([]byte(s), loc); ok {
			return t, nil
		}
	}
	return parsekit.Stamp14(s, loc)
}

// date checks a YYYYMMDD date as parsekit.DateAndTime(s, "000000") does.
func (d *dayCaches) date(s string, loc *time.Location) error {
	if len(s) == 8 && allDigits(s) {
		var stamp [14]byte
		copy(stamp[copy(stamp[:], s):], "000000")
		if _, ok := (*parsekit.DayCache)(d).Stamp14(stamp[:], loc); ok {
			return nil
		}
	}
	_, err := parsekit.DateAndTime(s, "000000", loc)
	return err
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// reject emits a reject for the current row, with every card-like run and
// CardNo masked out of the reason and the raw text: a malformed row may have
// its card in any column, or glued to garbage. Runs first, in place
// (parsekit.MaskRuns), then the card: masking the card first would cut a run
// holding it into pieces that escape. Only plausible dates escape the runs
// (parsekit.IsStamp): 20109338254950 is a 2 glued to a card. (Long numeric
// Sabuns get masked too; the line number leads back to the file.)
func reject(opt parsekit.Options, emit parsekit.Emitter, layout string, rows rowSource, reason, card string) error {
	raw, reason := parsekit.MaskRuns(rows.Raw()), parsekit.MaskRuns(reason)
	return emit.Reject(opt.Reject(vendor, layout, rows.Line(), parsekit.MaskCardsIn(reason, card), raw, card))
}

type rowSource interface {
	Line() int
	Raw() string
}

// readErr turns a read failure mid-file into a file-level error.
func readErr(opt parsekit.Options, err error) error {
	if err == nil {
		return nil
	}
	return &parsekit.FileError{File: opt.File, Reason: err.Error()}
}
