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
	at, err := parsekit.KoreanAMPM(rec.DateAttestation, opt.Location)
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
	for rows.Next() {
		reason := rows.Problem()
		if reason == "" {
			var p attendance.Punch
			if p, reason = rows.Row().punch(&opt, layoutCSV, rows.Line()); reason == "" {
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

// readErr turns a read failure mid-file into a file-level error.
func readErr(opt parsekit.Options, err error) error {
	if err == nil {
		return nil
	}
	return &parsekit.FileError{File: opt.File, Reason: err.Error()}
}
