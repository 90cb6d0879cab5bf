// Package telecop parses KT Telecop exports: telecop-workresult-csv,
// telecop-workresult-xml and telecop-report-csv.
package telecop

import "github.com/attendance-pipeline/attnd/internal/parsers/parsekit"

// Layouts returns the KT Telecop layouts.
func Layouts() []parsekit.Layout { return nil }
