// Package adtcaps parses ADT Caps (SK Shieldus) exports: caps-event-txt,
// caps-tenter-csv and caps-ovrwrk-txt.
package adtcaps

import "github.com/attendance-pipeline/attnd/internal/parsers/parsekit"

// Layouts returns the ADT Caps layouts.
func Layouts() []parsekit.Layout { return nil }
