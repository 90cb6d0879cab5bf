package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Formats Write accepts.
var Formats = []string{"table", "csv", "json"}

// Write renders t to w as "table" (aligned columns for a terminal; Hangul
// counts two columns wide), "csv" (header + rows, RFC 4180) or "json" (an
// array of objects, keys in column order, numbers as numbers, NULL as null).
func Write(w io.Writer, t *Table, format string) error {
	switch format {
	case "", "table":
		return writeTable(w, t)
	case "csv":
		return writeCSV(w, t)
	case "json":
		return writeJSON(w, t)
	}
	return fmt.Errorf("unknown format %q (want table, csv or json)", format)
}

func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case bool:
		if v {
			return "yes"
		}
		return "no"
	}
	return fmt.Sprint(v)
}

// width is the number of terminal columns s takes: East Asian wide and
// fullwidth characters (Hangul, CJK) take two.
func width(s string) int {
	n := 0
	for _, r := range s {
		n++
		if wide(r) {
			n++
		}
	}
	return n
}

func wide(r rune) bool {
	return (r >= 0x1100 && r <= 0x115F) || (r >= 0x2E80 && r <= 0xA4CF) || (r >= 0xAC00 && r <= 0xD7A3) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0xFE30 && r <= 0xFE4F) || (r >= 0xFF00 && r <= 0xFF60) || (r >= 0xFFE0 && r <= 0xFFE6)
}

func writeTable(w io.Writer, t *Table) error {
	cells := make([][]string, len(t.Rows))
	widths := make([]int, len(t.Columns))
	numeric := make([]bool, len(t.Columns))
	for i, c := range t.Columns {
		widths[i] = width(c)
	}
	for r, row := range t.Rows {
		cells[r] = make([]string, len(row))
		for i, v := range row {
			s := strings.ReplaceAll(text(v), "\n", " ")
			cells[r][i] = s
			if ww := width(s); ww > widths[i] {
				widths[i] = ww
			}
			switch v.(type) {
			case int64, float64:
				numeric[i] = true
			}
		}
	}
	var b strings.Builder
	line := func(vals []string) {
		var l strings.Builder
		for i, s := range vals {
			pad := strings.Repeat(" ", widths[i]-width(s))
			if i > 0 {
				l.WriteString("  ")
			}
			if numeric[i] {
				l.WriteString(pad + s)
			} else {
				l.WriteString(s + pad)
			}
		}
		b.WriteString(strings.TrimRight(l.String(), " "))
		b.WriteString("\n")
	}
	line(t.Columns)
	sep := make([]string, len(widths))
	for i, n := range widths {
		sep[i] = strings.Repeat("-", n)
	}
	line(sep)
	for _, r := range cells {
		line(r)
	}
	fmt.Fprintf(&b, "(%d rows)\n", len(t.Rows))
	_, err := io.WriteString(w, b.String())
	return err
}

func writeCSV(w io.Writer, t *Table) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(t.Columns); err != nil {
		return err
	}
	rec := make([]string, len(t.Columns))
	for _, row := range t.Rows {
		for i, v := range row {
			if b, ok := v.(bool); ok {
				rec[i] = strconv.FormatBool(b)
				continue
			}
			rec[i] = text(v)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func writeJSON(w io.Writer, t *Table) error {
	var b strings.Builder
	b.WriteString("[")
	for r, row := range t.Rows {
		if r > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n  {")
		for i, v := range row {
			if i > 0 {
				b.WriteString(", ")
			}
			k, _ := json.Marshal(t.Columns[i])
			val, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("json %s: %w", t.Columns[i], err)
			}
			b.Write(k)
			b.WriteString(": ")
			b.Write(val)
		}
		b.WriteString("}")
	}
	if len(t.Rows) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("]\n")
	_, err := io.WriteString(w, b.String())
	return err
}
