// Package secom parses S-1 Secom exports: secom-alarm-csv and secom-workhistory-csv.
package secom

import "github.com/attendance-pipeline/attnd/internal/parsers/parsekit"

// Layouts returns the Secom layouts.
func Layouts() []parsekit.Layout { return nil }
