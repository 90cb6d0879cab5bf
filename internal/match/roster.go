package match

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
)

// Provider is a source of directory accounts.
type Provider interface {
	Name() string
	Employees(ctx context.Context) ([]attendance.Employee, error)
}

// Roster columns. employee_no, login_id and name are required; card_numbers
// and aliases are optional columns whose values hold several entries
// separated by ';' or '|'.
const (
	colEmployeeNo = "employee_no"
	colLoginID    = "login_id"
	colName       = "name"
	colCards      = "card_numbers"
	colAliases    = "aliases"
)

type rosterFile struct {
	path string
	keys [][]byte
}

// RosterFile is a provider reading a UTF-8 CSV roster (with or without BOM)
// whose header is employee_no,login_id,name,card_numbers,aliases. Card
// numbers are normalized and hashed with each of cardKeys as they are read
// (the same HMAC the parsers put in card_hash; one key per site that has its
// own); raw cards are never kept. A roster with card numbers but no key is an
// error, as is any bad row (the error names the line): a hand-edited file is
// fixed, not half-loaded.
func RosterFile(path string, cardKeys ...[]byte) Provider {
	r := &rosterFile{path: path}
	for _, k := range cardKeys {
		r.keys = append(r.keys, slices.Clone(k))
	}
	return r
}

func (r *rosterFile) Name() string { return "roster " + r.path }

func (r *rosterFile) Employees(ctx context.Context) ([]attendance.Employee, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(r.path)
	if err != nil {
		return nil, fmt.Errorf("match: roster: %w", err)
	}
	emps, err := ParseRoster(bytes.NewReader(b), r.keys...)
	if err != nil {
		return nil, fmt.Errorf("match: roster %s: %w", r.path, err)
	}
	return emps, nil
}

// ParseRoster reads a roster; see RosterFile.
func ParseRoster(rd io.Reader, cardKeys ...[]byte) ([]attendance.Employee, error) {
	cardKeys = slices.DeleteFunc(slices.Clone(cardKeys), func(k []byte) bool { return len(k) == 0 })
	cr := csv.NewReader(rd)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty file: no header row")
	}
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, dup := col[h]; dup && h != "" {
			return nil, fmt.Errorf("line 1: column %s twice", h)
		}
		col[h] = i
	}
	for _, need := range []string{colEmployeeNo, colLoginID, colName} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("line 1: header %q lacks column %s (want employee_no,login_id,name,card_numbers,aliases)", strings.Join(header, ","), need)
		}
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var out []attendance.Employee
	firstLine := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if blankRow(rec) {
			continue
		}
		if len(rec) != len(header) {
			return nil, fmt.Errorf("line %d: want %d fields, got %d", line, len(header), len(rec))
		}
		e := attendance.Employee{
			EmployeeNo: get(rec, colEmployeeNo),
			LoginID:    get(rec, colLoginID),
			Name:       get(rec, colName),
			Aliases:    splitList(get(rec, colAliases)),
		}
		if e.EmployeeNo == "" {
			return nil, fmt.Errorf("line %d: employee_no is empty", line)
		}
		if prev, dup := firstLine[e.EmployeeNo]; dup {
			return nil, fmt.Errorf("line %d: employee_no %s already on line %d", line, e.EmployeeNo, prev)
		}
		firstLine[e.EmployeeNo] = line
		for _, c := range splitList(get(rec, colCards)) {
			c = parsekit.NormalizeCard(c)
			if c == "" {
				continue
			}
			if len(cardKeys) == 0 {
				return nil, fmt.Errorf("line %d: card numbers given but no card key configured (card_key_env)", line)
			}
			for _, k := range cardKeys {
				e.CardHashes = append(e.CardHashes, parsekit.CardHash(k, c))
			}
		}
		out = append(out, e)
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '|' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func blankRow(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}
