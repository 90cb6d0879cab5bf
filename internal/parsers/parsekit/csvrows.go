package parsekit

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// CSVRows streams a headed CSV export into rows of T, a struct whose string
// fields carry `csv:"Column"` tags (the same tags gocsv reads). The header is
// bound to the fields once; each row is assigned by index, with no per-row
// reflection lookup or allocation beyond encoding/csv's one string per record.
//
// Guarantees: line numbers are physical 1-based lines; memory stays bounded
// whatever the input (a line over opt.MaxLineBytes, a field over
// opt.MaxFieldBytes or a quoted field left open for more than MaxLineBytes
// becomes a row Problem, never a growing buffer); every header column T names
// must be present (gocsv would silently zero-fill a missing one); blank rows
// (no field with content, e.g. Excel's ",,,,") are skipped.
type CSVRows[T any] struct {
	feed     *csvFeed
	cr       *csv.Reader
	maxField int
	binds    []csvBind
	width    int // header fields
	row      T
	rv       reflect.Value
	rec      []string
	line     int
	problem  string
	err      error
}

type csvBind struct {
	col, field int
	name       string
}

// CSVColumns lists the `csv` tags of T's string fields, in field order.
func CSVColumns[T any]() []string {
	t := reflect.TypeFor[T]()
	var cols []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag := f.Tag.Get("csv"); tag != "" && tag != "-" && f.Type.Kind() == reflect.String && f.IsExported() {
			cols = append(cols, tag)
		}
	}
	return cols
}

// NewCSVRows reads up to maxPreamble rows (title rows of Excel reports) before
// the header row and binds it. A missing header is a *FileError.
func NewCSVRows[T any](r io.Reader, opt Options, maxPreamble int) (*CSVRows[T], error) {
	opt = opt.WithDefaults()
	feed := &csvFeed{lr: NewLineReader(r, opt.MaxLineBytes), maxRecord: opt.MaxLineBytes}
	cr := csv.NewReader(feed)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	c := &CSVRows[T]{feed: feed, cr: cr, maxField: opt.MaxFieldBytes}
	c.rv = reflect.ValueOf(&c.row).Elem()
	cols := CSVColumns[T]()
	var first []string
	firstLine := 0
	for n := 0; n <= maxPreamble; n++ {
		feed.reset()
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &FileError{File: opt.File, Reason: "read header: " + err.Error()}
		}
		line, _ := cr.FieldPos(0)
		if first == nil {
			first, firstLine = append([]string(nil), rec...), line
		}
		if binds, missing := bindHeader(rec, cols, reflect.TypeFor[T]()); len(missing) == 0 && !feed.tooLong {
			c.binds, c.width = binds, len(rec)
			return c, nil
		}
	}
	want := strings.Join(cols, ",")
	switch {
	case first == nil:
		return nil, &FileError{File: opt.File, Reason: "empty file: no header row " + want}
	case maxPreamble == 0:
		_, missing := bindHeader(first, cols, reflect.TypeFor[T]())
		return nil, &FileError{File: opt.File, Line: firstLine, Reason: fmt.Sprintf("header %q lacks column(s) %s (want %s)", clip(strings.Join(first, ","), 200), strings.Join(missing, ","), want)}
	default:
		return nil, &FileError{File: opt.File, Line: firstLine, Reason: fmt.Sprintf("no header row with columns %s in the first %d rows", want, maxPreamble+1)}
	}
}

func bindHeader(rec, cols []string, t reflect.Type) (binds []csvBind, missing []string) {
	for _, col := range cols {
		at := -1
		for i, h := range rec {
			if strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")), col) {
				at = i
				break
			}
		}
		if at < 0 {
			missing = append(missing, col)
			continue
		}
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).Tag.Get("csv") == col {
				binds = append(binds, csvBind{col: at, field: i, name: col})
				break
			}
		}
	}
	return binds, missing
}

// Next advances to the next non-blank row; false at the end or on a read error (see Err).
func (c *CSVRows[T]) Next() bool {
	for c.err == nil {
		c.feed.reset()
		rec, err := c.cr.Read()
		if errors.Is(err, io.EOF) {
			return false
		}
		if err != nil {
			c.err = fmt.Errorf("read line %d: %w", c.feed.lr.Line(), err)
			return false
		}
		c.line, _ = c.cr.FieldPos(0)
		c.rec = rec
		if blank(rec) && !c.feed.tooLong && !c.feed.cut {
			continue
		}
		var zero T
		c.row = zero
		for _, b := range c.binds { // only bound fields are trimmed: the hot path
			if b.col < len(rec) {
				rec[b.col] = strings.TrimSpace(rec[b.col])
				c.rv.Field(b.field).SetString(rec[b.col])
			}
		}
		c.problem = c.check(rec)
		return true
	}
	return false
}

func (c *CSVRows[T]) check(rec []string) string {
	switch {
	case c.feed.tooLong:
		return fmt.Sprintf("line longer than %d bytes", c.feed.maxRecord)
	case c.feed.cut:
		return fmt.Sprintf("quoted field not closed within %d bytes", c.feed.maxRecord)
	case len(rec) < c.width:
		return fmt.Sprintf("want %d fields, got %d", c.width, len(rec))
	}
	for i := c.width; i < len(rec); i++ {
		if strings.TrimSpace(rec[i]) != "" {
			return fmt.Sprintf("want %d fields, got %d", c.width, len(rec))
		}
	}
	for _, b := range c.binds {
		if len(rec[b.col]) > c.maxField {
			return fmt.Sprintf("%s longer than %d bytes", b.name, c.maxField)
		}
	}
	return ""
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// Row is the current row; fields whose column is missing on a short row are
// empty. Valid until the next call to Next.
func (c *CSVRows[T]) Row() *T { return &c.row }

// Fields are the current record's fields (bound ones trimmed); valid until Next.
func (c *CSVRows[T]) Fields() []string { return c.rec }

// Line is the physical line the current row starts on.
func (c *CSVRows[T]) Line() int { return c.line }

// Problem is why the current row is structurally unusable (too long, wrong
// field count, over-long field), or "" when it is well formed.
func (c *CSVRows[T]) Problem() string { return c.problem }

// Raw is the current row's text as read (several lines for a quoted field
// with line breaks; the head of an over-long line). Not card-masked.
func (c *CSVRows[T]) Raw() string { return string(c.feed.raw) }

// Err is the read error that stopped Next, or nil at a clean end.
func (c *CSVRows[T]) Err() error { return c.err }

// csvFeed hands encoding/csv one physical line per Read, so csv never reads
// ahead of the record it returns: the feed then knows that record's raw text,
// whether a line was over-long, and can force-close a quoted field that
// would otherwise swallow the rest of the file (csv only asks for another
// line mid-record when a quoted field is open).
type csvFeed struct {
	lr        *LineReader
	maxRecord int
	raw       []byte // the current record's lines
	buf       []byte
	pending   []byte
	tooLong   bool
	cut       bool
}

func (f *csvFeed) reset() { f.raw, f.tooLong, f.cut = f.raw[:0], false, false }

func (f *csvFeed) Read(p []byte) (int, error) {
	if len(f.pending) == 0 {
		switch {
		case len(f.raw) > f.maxRecord: // mid-record and over the bound: close the quote
			f.cut = true
			f.buf = append(f.buf[:0], '"', '\n')
		case !f.lr.Next():
			if err := f.lr.Err(); err != nil {
				return 0, err
			}
			return 0, io.EOF
		default:
			b := f.lr.Bytes()
			if f.lr.TooLong() {
				// Keep a head csv can split: whole fields only, no quotes.
				f.tooLong = true
				b = []byte(strings.ReplaceAll(clip(string(b), 200), `"`, ""))
				if i := strings.LastIndexByte(string(b), ','); i > 0 {
					b = b[:i]
				}
				if len(b) == 0 {
					b = []byte("?")
				}
			}
			if len(b) > 0 || len(f.raw) > 0 {
				if len(f.raw) > 0 {
					f.raw = append(f.raw, '\n')
				}
				f.raw = append(f.raw, b...)
			}
			f.buf = append(append(f.buf[:0], b...), '\n')
		}
		f.pending = f.buf
	}
	n := copy(p, f.pending)
	f.pending = f.pending[n:]
	return n, nil
}

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// SniffCSVHeader reports whether one of the first maxPreamble+1 complete,
// non-empty lines of head is a comma-separated header holding every column
// in cols (case-insensitive, spaces and quotes ignored).
func SniffCSVHeader(head string, maxPreamble int, cols ...string) bool {
	lines := strings.Split(head, "\n")
	if len(head) >= 8<<10-4 { // the head was cut: its last line may be partial
		lines = lines[:len(lines)-1]
	}
	seen := 0
	for _, l := range lines {
		l = strings.TrimSpace(strings.TrimPrefix(l, "\ufeff"))
		if l == "" {
			continue
		}
		if seen++; seen > maxPreamble+1 {
			return false
		}
		fields := strings.Split(l, ",")
		all := true
		for _, c := range cols {
			found := false
			for _, f := range fields {
				if strings.EqualFold(strings.Trim(strings.TrimSpace(f), `"`), c) {
					found = true
					break
				}
			}
			if !found {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}
