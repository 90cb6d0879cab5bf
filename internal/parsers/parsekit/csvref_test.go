package parsekit

// The CSVRows of commit 663449b (every record tokenized by encoding/csv, then
// replayed to gocsv), kept as the reference the fast path is fuzzed against.
// Its feeds are csvFeed and replayFeed, which the csv.Reader path of CSVRows
// still uses unchanged.

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/gocarina/gocsv"
)

type refCSVRows[T any] struct {
	feed     *csvFeed
	cr       *csv.Reader
	maxField int
	binds    []csvBind
	width    int // header fields
	cols     []string

	proj []int       // the bound columns, ascending: what gocsv is given of each record
	gbuf *replayFeed // what gocsv's csv.Reader reads: the header, then one record per Next
	gcr  *csv.Reader // gocsv's reader, to check it consumed exactly each record
	um   *gocsv.Unmarshaller

	row     T
	rec     []string
	line    int
	problem string
	err     error
}

// NewCSVRows reads up to maxPreamble rows (title rows of Excel reports) before
// the header row and binds it. A missing header is a *FileError.
func newRefCSVRows[T any](r io.Reader, opt Options, maxPreamble int) (*refCSVRows[T], error) {
	opt = opt.WithDefaults()
	feed := &csvFeed{lr: NewLineReader(r, opt.MaxLineBytes), maxRecord: opt.MaxLineBytes}
	cr := newCSVReader(feed)
	cols := CSVColumns[T]()
	c := &refCSVRows[T]{feed: feed, cr: cr, maxField: opt.MaxFieldBytes, cols: cols}
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
		line := feed.start
		if first == nil {
			first, firstLine = append([]string(nil), rec...), line
		}
		if binds, missing := bindHeader(rec, cols); len(missing) == 0 && !feed.tooLong {
			c.binds, c.width = binds, len(rec)
			if err := c.startGocsv(rec); err != nil {
				return nil, &FileError{File: opt.File, Line: line, Reason: err.Error()}
			}
			return c, nil
		}
	}
	want := strings.Join(cols, ",")
	switch {
	case first == nil:
		return nil, &FileError{File: opt.File, Reason: "empty file: no header row " + want}
	case maxPreamble == 0:
		_, missing := bindHeader(first, cols)
		return nil, &FileError{File: opt.File, Line: firstLine, Reason: fmt.Sprintf("header %q lacks column(s) %s (want %s)", clip(strings.Join(first, ","), 200), strings.Join(missing, ","), want)}
	default:
		return nil, &FileError{File: opt.File, Line: firstLine, Reason: fmt.Sprintf("no header row with columns %s in the first %d rows", want, maxPreamble+1)}
	}
}

// startGocsv builds this CSVRows' own gocsv Unmarshaller: gocsv reads the
// header line itself from the replay buffer, then the header is normalized
// for this Unmarshaller only (not with the global gocsv.SetHeaderNormalizer).
func (c *refCSVRows[T]) startGocsv(header []string) error {
	if len(c.binds) == 0 {
		return fmt.Errorf("%T has no csv-tagged field", *new(T))
	}
	for _, b := range c.binds {
		c.proj = append(c.proj, b.col)
	}
	slices.Sort(c.proj)
	c.proj = slices.Compact(c.proj)
	var err error
	c.gbuf, c.gcr, c.um, err = newGocsv[T](header, c.proj, c.cols)
	return err
}

// Next advances to the next non-blank row; false at the end or on a read error (see Err).
func (c *refCSVRows[T]) Next() bool {
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
		c.line = c.feed.start
		c.rec = rec
		if blank(rec) && !c.feed.tooLong && !c.feed.cut {
			continue
		}
		for _, b := range c.binds { // only bound fields are trimmed: the hot path
			if b.col < len(rec) {
				rec[b.col] = strings.TrimSpace(rec[b.col])
			}
		}
		c.problem = c.check(rec)
		if len(rec) <= c.proj[0] { // no bound column at all: nothing for gocsv to map
			var zero T
			c.row = zero
			return true
		}
		c.gbuf.set(rec, c.proj)
		v, err := c.um.Read()
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe) || errors.Is(err, io.EOF) || c.gcr.InputOffset() != c.gbuf.total:
			// gocsv's reader must read back exactly the record written.
			c.err = fmt.Errorf("line %d: gocsv re-read the record differently: %v", c.line, err)
			return false
		case err != nil:
			var zero T
			c.row = zero
			if c.problem == "" {
				c.problem = err.Error()
			}
		default:
			c.row = *v.(*T)
		}
		return true
	}
	return false
}

func (c *refCSVRows[T]) check(rec []string) string {
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

// Row is the current row; fields whose column is missing on a short row are
// empty. Valid until the next call to Next.
func (c *refCSVRows[T]) Row() *T { return &c.row }

// Fields are the current record's fields (bound ones trimmed); valid until Next.
func (c *refCSVRows[T]) Fields() []string { return c.rec }

// Line is the physical line the current row starts on.
func (c *refCSVRows[T]) Line() int { return c.line }

// Problem is why the current row is structurally unusable (too long, wrong
// field count, over-long field), or "" when it is well formed.
func (c *refCSVRows[T]) Problem() string { return c.problem }

// Raw is the current row's text as read (several lines for a quoted field
// with line breaks; the head of an over-long line). Not card-masked.
func (c *refCSVRows[T]) Raw() string { return string(c.feed.raw) }

// Err is the read error that stopped Next, or nil at a clean end.
func (c *refCSVRows[T]) Err() error { return c.err }

type refRow struct {
	line    int
	problem string
	raw     string
	fields  string
	row     string
}

func collectRef[T any](in string, opt Options, pre int) ([]refRow, string) {
	rows, err := newRefCSVRows[T](strings.NewReader(in), opt, pre)
	if err != nil {
		return nil, "new: " + err.Error()
	}
	var out []refRow
	for rows.Next() {
		out = append(out, refRow{rows.Line(), rows.Problem(), rows.Raw(), fmt.Sprintf("%q", rows.Fields()), rowJSON(rows.Row())})
	}
	return out, fmt.Sprint(rows.Err())
}

func collectNew[T any](in string, opt Options, pre int) ([]refRow, string) {
	rows, err := NewCSVRows[T](strings.NewReader(in), opt, pre)
	if err != nil {
		return nil, "new: " + err.Error()
	}
	var out []refRow
	for rows.Next() {
		r := refRow{line: rows.Line(), problem: rows.Problem(), raw: rows.Raw()}
		r.row = rowJSON(rows.Row()) // before Fields: the row must not depend on it
		r.fields = fmt.Sprintf("%q", rows.Fields())
		out = append(out, r)
	}
	return out, fmt.Sprint(rows.Err())
}

func rowJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func sameAsRef[T any](t *testing.T, in string, opt Options, pre int) {
	t.Helper()
	want, wantErr := collectRef[T](in, opt, pre)
	got, gotErr := collectNew[T](in, opt, pre)
	if gotErr != wantErr {
		t.Fatalf("%q: err %s, reference %s", in, gotErr, wantErr)
	}
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) || got[i] != want[i] {
			t.Fatalf("%q: row %d:\n got %+v\nwant %+v", in, i, got[i:], want[i:])
		}
	}
}

// FuzzCSVRowsSameAsReference: the fast path (plain lines split by a byte
// scan) and the encoding/csv path give exactly what the previous CSVRows
// gave, row by row: line, problem, raw text, fields and the mapped struct.
func FuzzCSVRowsSameAsReference(f *testing.F) {
	for _, s := range []string{
		"A,B,C\n1,2,3\n",
		"x\nB,A,C\n\"q\"\"\",\"a\nb\",c\n,\n\"\"\n1\n",
		"A,B,C,B\n1,\"2,\r\n3\",\"\",4,5\n\"open\n" + strings.Repeat("z", 40) + "\n",
		"\ufeffa, b ,c\r\n 1 , 2 , 3 \r\n",
		"C,x,A,y,B,z\n1,2,3,4,5,6\n1,2,3,4,5,6,7\n1,2,3,4,5,6,\n,,,,,\n \u00a0, ,\u0085\n1,2\n1\n\n\r\n\r\r\n1,2,3,4,\xff5\n",
		"id,Name,opt,code,rate\n 1 , n , , c , 2.5 \nx,n,,c,1\n,,,,\n1,n,x\n",
		"A,B,C\n" + strings.Repeat("a", 17) + ",b,c\n1," + strings.Repeat("b", 80) + "\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		opt := Options{MaxLineBytes: 64, MaxFieldBytes: 16}
		sameAsRef[abcRow](t, string(in), opt, 2)
		sameAsRef[typedRow](t, string(in), opt, 1)
		sameAsRef[skipRow](t, string(in), opt, 0)
	})
}
