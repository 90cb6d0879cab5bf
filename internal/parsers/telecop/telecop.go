// Package telecop parses KT Telecop exports of the KTT_FPReader table
// tb_workresult: telecop-workresult-csv, telecop-workresult-xml (.NET DataSet
// XML) and telecop-report-csv (an integrator's Excel report of the same table).
//
// Guarantees (vendor-exports.md §6): every record becomes one punch or one
// reject, in file order, with its physical line (XML: 1-based record index);
// failed authentications are punches with auth_ok=false, not rejects; a
// missing or wrong header, or XML that breaks mid-file, is a
// *parsekit.FileError (records before the break are already emitted);
// employee numbers are kept as written (trimmed); mode words and success
// words come from opt.Codes; memory stays flat whatever the file size.
package telecop

import (
	"io"
	"slices"
	"strings"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
)

const (
	vendor       = "telecop"
	layoutCSV    = "telecop-workresult-csv"
	layoutXML    = "telecop-workresult-xml"
	layoutReport = "telecop-report-csv"

	// reportPreamble is how many title rows an Excel report may carry above its header.
	reportPreamble = 10
)

// Layouts returns the KT Telecop layouts.
func Layouts() []parsekit.Layout {
	return []parsekit.Layout{
		{
			Name: layoutCSV, Vendor: vendor,
			Sniff: func(head string) bool { return parsekit.SniffCSVHeader(head, 0, parsekit.CSVColumns[record]()...) },
			FileHint: func(name string) bool {
				return hasSuffixFold(name, ".csv") && strings.Contains(strings.ToLower(name), "workresult")
			},
			Parse: parseCSV,
		},
		{
			Name: layoutXML, Vendor: vendor,
			Sniff:    sniffXML,
			FileHint: func(name string) bool { return hasSuffixFold(name, ".xml") },
			Parse:    parseXML,
		},
		{
			Name: layoutReport, Vendor: vendor,
			Sniff: func(head string) bool {
				return parsekit.SniffCSVHeader(head, reportPreamble, parsekit.CSVColumns[reportRow]()...)
			},
			FileHint: func(name string) bool {
				return strings.Contains(name, "출입기록") || strings.Contains(name, "인증")
			},
			Parse: parseReport,
		},
	}
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// record is one tb_workresult row, as CSV columns or as XML child elements.
// str_Week is a required CSV column that no punch reads: the blank field
// keeps it in the header check without gocsv mapping it on every row
// (parsekit.CSVColumns).
type record struct {
	DateAttestation string `csv:"date_Attestation" xml:"date_Attestation"`
	_               string `csv:"str_Week"`
	Week            string `csv:"-" xml:"str_Week"`
	EmpNum          string `csv:"str_workempNum" xml:"str_workempNum"`
	EmpName         string `csv:"str_workempName" xml:"str_workempName"`
	Mode            string `csv:"str_Mode" xml:"str_Mode"`
	Place           string `csv:"str_accTerminalPlace" xml:"str_accTerminalPlace"`
	Status          string `csv:"str_ValidationStatus" xml:"str_ValidationStatus"`
}

// punch turns a trimmed record into a punch, or returns a reject reason.
func (rec *record) punch(opt *parsekit.Options, layout string, line int) (attendance.Punch, string) {
	return rec.punchAt(opt, layout, line, nil)
}

// punchAt is punch with the parse's day caches (nil: none).
func (rec *record) punchAt(opt *parsekit.Options, layout string, line int, days *dayCaches) (attendance.Punch, string) {
	at, err := days.koreanAMPM(rec.DateAttestation, opt.Location)
	if err != nil {
		return attendance.Punch{}, "date_Attestation: " + err.Error()
	}
	return opt.Build(parsekit.Row{
		Vendor: vendor, Layout: layout, Line: line, At: at,
		EmployeeNo: rec.EmpNum, Name: rec.EmpName,
		Mode: mode(opt, rec.Mode), RawMode: rec.Mode, Device: rec.Place,
		AuthOK: slices.Contains(opt.Codes.TelecopSuccess, rec.Status),
	}), ""
}

func mode(opt *parsekit.Options, word string) attendance.Mode {
	if m, ok := opt.Codes.TelecopModes[word]; ok {
		return m
	}
	return attendance.ModeUnknown
}

func parseCSV(r io.Reader, opt parsekit.Options, emit parsekit.Emitter) error {
	opt = opt.WithDefaults()
	rows, err := parsekit.NewCSVRows[record](r, opt, 0)
	if err != nil {
		return err
	}
	var days dayCaches
	for rows.Next() {
		reason := rows.Problem()
		if reason == "" {
			var p attendance.Punch
			if p, reason = rows.Row().punchAt(&opt, layoutCSV, rows.Line(), &days); reason == "" {
				if err := emit.Punch(p); err != nil {
					return err
				}
				continue
			}
		}
		// tb_workresult carries no card numbers, so there is nothing to mask.
		if err := emit.Reject(opt.Reject(vendor, layoutCSV, rows.Line(), reason, rows.Raw())); err != nil {
			return err
		}
	}
	return readErr(opt, rows.Err())
}

// dayCaches is the parse's parsekit.DayCache: a time of the common shape on a
// cached day is its midnight plus the clock, without time.Date or the
// general parsers' allocations. One per parse; nil is none.
type dayCaches parsekit.DayCache

// koreanAMPM is parsekit.KoreanAMPM: "yyyy-MM-dd 오전|오후 h:mm:ss" through
// the cache; any other shape, and a time the cache cannot answer, goes to
// KoreanAMPM, which gives the same time or the error.
func (c *dayCaches) koreanAMPM(s string, loc *time.Location) (time.Time, error) {
	if c != nil {
		if st, ok := ampmStamp(s); ok {
			if t, ok := (*parsekit.DayCache)(c).Stamp14(st[:], loc); ok {
				return t, nil
			}
		}
	}
	return parsekit.KoreanAMPM(s, loc)
}

// isoDateTime is parsekit.ISODateTime: "YYYY-MM-DD HH:MM:SS" through the
// cache, as koreanAMPM.
func (c *dayCaches) isoDateTime(s string, loc *time.Location) (time.Time, error) {
	var st [14]byte
	if c != nil && len(s) > 11 && s[10] == ' ' && isoDate10(s[:10], &st) {
		if h, ok := clock(s[11:], &st); ok && h <= 23 {
			putTwo(st[8:], h)
			if t, ok := (*parsekit.DayCache)(c).Stamp14(st[:], loc); ok {
				return t, nil
			}
		}
	}
	return parsekit.ISODateTime(s, loc)
}

// ampmStamp is the YYYYMMDDHHMMSS stamp of s when it has the common shape
// "yyyy-MM-dd 오전|오후 h:mm:ss" (two-digit month and day, single spaces,
// seconds, a 1-12 hour); ok false for anything else.
func ampmStamp(s string) (st [14]byte, ok bool) {
	const am, pm = " 오전 ", " 오후 "
	if len(s) < 10+len(am) || !isoDate10(s[:10], &st) {
		return st, false
	}
	var h24 int
	switch s[10 : 10+len(am)] {
	case am:
	case pm:
		h24 = 12
	default:
		return st, false
	}
	h, ok := clock(s[10+len(am):], &st)
	if !ok || h < 1 || h > 12 {
		return st, false
	}
	putTwo(st[8:], h%12+h24)
	return st, true
}

// isoDate10 copies the digits of a "YYYY-MM-DD" date into st[:8].
func isoDate10(s string, st *[14]byte) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	copy(st[0:4], s[0:4])
	copy(st[4:6], s[5:7])
	copy(st[6:8], s[8:10])
	return allDigits(st[:8])
}

// clock reads "h:mm:ss" or "hh:mm:ss": the hour, and the minutes and
// seconds copied into st[10:14].
func clock(s string, st *[14]byte) (h int, ok bool) {
	var hh string
	switch {
	case len(s) == 7 && s[1] == ':' && s[4] == ':':
		hh, s = s[:1], s[2:]
	case len(s) == 8 && s[2] == ':' && s[5] == ':':
		hh, s = s[:2], s[3:]
	default:
		return 0, false
	}
	for i := 0; i < len(hh); i++ {
		if hh[i] < '0' || hh[i] > '9' {
			return 0, false
		}
		h = h*10 + int(hh[i]-'0')
	}
	copy(st[10:12], s[0:2])
	copy(st[12:14], s[3:5])
	return h, allDigits(st[10:14])
}

func putTwo(b []byte, n int) { b[0], b[1] = byte('0'+n/10), byte('0'+n%10) }

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// readErr turns a read failure mid-file into a file-level error.
func readErr(opt parsekit.Options, err error) error {
	if err == nil {
		return nil
	}
	return &parsekit.FileError{File: opt.File, Reason: err.Error()}
}
