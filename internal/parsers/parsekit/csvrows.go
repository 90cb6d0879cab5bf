package parsekit

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"reflect"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gocarina/gocsv"
)

// CSVRows streams a headed CSV export into rows of T, a struct whose fields
// carry gocsv `csv:"Column"` tags. The row→struct mapping is gocsv's
// (github.com/gocarina/gocsv): its Unmarshaller binds the header to the
// fields and converts each value (strings as they are, numbers, bools,
// pointers, omitempty, TypeUnmarshaller/TextUnmarshaler fields).
//
// gocsv keeps its settings (CSV reader factory, header normalizer, tag
// options) in package globals; CSVRows never sets them. Each CSVRows owns its
// two csv.Readers and its gocsv.Unmarshaller, built per call with
// gocsv.NewUnmarshaller, and normalizes the header through that
// Unmarshaller's RenormalizeHeaders: two CSVRows with different Options (or
// two sites with different limits) run side by side in one process without
// affecting each other.
//
// On the common path a record is tokenized once, by gocsv's own csv.Reader.
// CSVRows reads physical lines through a bounded line reader. A line
// without a quote or a CR (nearly every row of an export) is split at its
// commas by a byte scan, which is exactly what encoding/csv does with such a
// line; CSVRows checks its structure on the byte offsets and writes the
// trimmed bound fields into a private buffer (replayFeed). Any other line
// (a quote, a CR, over-long) goes to a csv.Reader over a bounded feed
// (csvFeed), which reads the further lines of a quoted field; its record's
// bound fields are trimmed and re-encoded into the same buffer. gocsv's
// csv.Reader reads the header row's cells for the columns T names, then one
// record per row, from that buffer: gocsv reads the header itself and maps
// every row, but never sees the unbounded input, and only the columns it
// maps are tokenized (a quoted record twice).
//
// Guarantees: line numbers are physical 1-based lines; memory stays bounded
// whatever the input (a line over opt.MaxLineBytes, a field over
// opt.MaxFieldBytes or a quoted field left open for more than MaxLineBytes
// becomes a row Problem, never a growing buffer); header names match the
// tags case-insensitively, ignoring surrounding spaces and a BOM, and the
// first of duplicated header columns wins; every column T names must be
// present in the header (gocsv alone would silently zero-fill a missing one:
// NewCSVRows returns a *FileError instead); columns T does not name, and
// extra empty fields after the last header column, are ignored; blank rows
// (no field with content, e.g. Excel's ",,,,") are skipped; bound fields are
// trimmed before gocsv sees them; a value gocsv cannot convert (only
// possible for non-string fields) is a row Problem.
type CSVRows[T any] struct {
	feed     *csvFeed
	cr       *csv.Reader // records with a quote or CR: encoding/csv over the feed
	maxField int
	binds    []csvBind
	width    int      // header fields
	cols     []string // the header must hold these (CSVColumns)
	mapped   []string // gocsv maps these (T's exported fields)

	checked []int       // the bound columns, ascending: trimmed and checked
	proj    []int       // the bound columns gocsv maps, ascending: what gocsv is given of each record
	spans   []csvSpan   // fast path: the trimmed span in the line of each bound column (indexed by column)
	offs    []int32     // fast path: the offsets of the line's commas (up to width of them)
	gbuf    *replayFeed // what gocsv's csv.Reader reads: the header, then one record per Next
	gcr     *csv.Reader // gocsv's reader, to check it consumed exactly each record
	um      *gocsv.Unmarshaller

	row     *T
	line    int
	fast    []byte   // the current record when it is one plain line (aliases the line reader's buffer), else nil
	rec     []string // the current record as encoding/csv split it (slow path); Fields builds it for a fast one
	problem string
	err     error
}

type csvSpan struct{ s, e int }

type csvBind struct {
	col  int
	name string
}

// CSVColumns lists the column names of T's exported fields with a `csv` tag
// (the tag's first comma-separated part; "-" excluded), and of its blank
// (_) fields with one, in field order. Every one of them must be in the
// header. A blank field names a column the layout requires but does not
// read: the column is checked like the others (field length) but gocsv
// never maps it, which saves gocsv's per-field reflection on every row.
func CSVColumns[T any]() []string {
	cols, _ := csvColumns[T]()
	return cols
}

// csvColumns also returns the columns gocsv maps (the exported fields').
func csvColumns[T any]() (cols, mapped []string) {
	t := reflect.TypeFor[T]()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("csv"), ",")
		if name = strings.TrimSpace(name); name == "" || name == "-" || !f.IsExported() && f.Name != "_" {
			continue
		}
		cols = append(cols, name)
		if f.IsExported() {
			mapped = append(mapped, name)
		}
	}
	return cols, mapped
}

// NewCSVRows reads up to maxPreamble rows (title rows of Excel reports) before
// the header row and binds it. A missing header is a *FileError.
func NewCSVRows[T any](r io.Reader, opt Options, maxPreamble int) (*CSVRows[T], error) {
	opt = opt.WithDefaults()
	feed := &csvFeed{lr: NewLineReader(r, opt.MaxLineBytes), maxRecord: opt.MaxLineBytes}
	cr := newCSVReader(feed)
	cols, mapped := csvColumns[T]()
	c := &CSVRows[T]{feed: feed, cr: cr, maxField: opt.MaxFieldBytes, cols: cols, mapped: mapped}
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

func newCSVReader(r io.Reader) *csv.Reader {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	return cr
}

// startGocsv builds this CSVRows' own gocsv Unmarshaller: gocsv reads the
// header line itself from the replay buffer, then the header is normalized
// for this Unmarshaller only (not with the global gocsv.SetHeaderNormalizer).
func (c *CSVRows[T]) startGocsv(header []string) error {
	for _, b := range c.binds {
		c.checked = append(c.checked, b.col)
		if slices.Contains(c.mapped, b.name) {
			c.proj = append(c.proj, b.col)
		}
	}
	if len(c.proj) == 0 {
		return fmt.Errorf("%T has no csv-tagged field", *new(T))
	}
	slices.Sort(c.checked)
	c.checked = slices.Compact(c.checked)
	slices.Sort(c.proj)
	c.proj = slices.Compact(c.proj)
	c.spans = make([]csvSpan, c.checked[len(c.checked)-1]+1)
	c.offs = make([]int32, 0, c.width)
	var err error
	c.gbuf, c.gcr, c.um, err = newGocsv[T](header, c.proj, c.mapped)
	return err
}

// newGocsv builds a gocsv Unmarshaller for T over header, given only the
// columns proj (ascending) through a replay feed that the caller fills with
// one record per row; cols are the tags bound. Its header normalizer is its
// own (not the global gocsv.SetHeaderNormalizer): each header cell maps to
// the tag it binds by bindHeader's rule (case-insensitive, spaces and BOM
// ignored, first duplicate wins), every other cell to "", which matches no
// gocsv key, so gocsv fills exactly the columns bindHeader found and never
// an untagged field that happens to share a column's name.
func newGocsv[T any](header []string, proj []int, cols []string) (*replayFeed, *csv.Reader, *gocsv.Unmarshaller, error) {
	feed := &replayFeed{}
	feed.set(header, proj)
	cr := newCSVReader(feed)
	um, err := gocsv.NewUnmarshaller(cr, new(T))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("gocsv: %w", err)
	}
	normalize := func(headers []string) []string {
		out := make([]string, len(headers))
		binds, _ := bindHeader(headers, cols)
		for _, b := range binds {
			out[b.col] = b.name
		}
		return out
	}
	if err := um.RenormalizeHeaders(normalize); err != nil {
		return nil, nil, nil, fmt.Errorf("gocsv: %w", err)
	}
	// gocsv's own view must agree: the same header, every required column
	// bound to a field.
	if len(um.Headers) != len(proj) {
		return nil, nil, nil, fmt.Errorf("gocsv read %d header fields, want %d", len(um.Headers), len(proj))
	}
	for _, col := range cols {
		if slices.Contains(um.MismatchedStructFields, col) {
			return nil, nil, nil, fmt.Errorf("gocsv did not bind column %s", col)
		}
	}
	return feed, cr, um, nil
}

func bindHeader(rec, cols []string) (binds []csvBind, missing []string) {
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
		binds = append(binds, csvBind{col: at, name: col})
	}
	return binds, missing
}

// Next advances to the next non-blank row; false at the end or on a read error (see Err).
//
// A record that is one line without a quote or a CR (almost every row of
// an export) is never tokenized by encoding/csv here: a byte scan splits it
// at the commas (which is all encoding/csv does with such a line), checks
// its structure and writes the trimmed bound fields straight into gocsv's
// replay buffer. Any other line (a quote, a CR, over-long) is handed to the
// feed and read by encoding/csv as before, with every line it continues on.
func (c *CSVRows[T]) Next() bool {
	lr := c.feed.lr
	for c.err == nil {
		c.feed.reset()
		c.fast, c.rec = nil, nil
		if !lr.Next() {
			if err := lr.Err(); err != nil {
				c.err = fmt.Errorf("read line %d: %w", lr.Line(), err)
			}
			return false
		}
		b := lr.Bytes()
		if len(b) == 0 && !lr.TooLong() {
			continue // encoding/csv skips empty lines too
		}
		var n int // fields in the record
		if !lr.TooLong() && plainLine(b) {
			var skip bool
			if n, skip = c.scan(b); skip {
				continue
			}
			c.fast, c.line = b, lr.Line()
		} else {
			c.feed.take(b, lr.TooLong())
			rec, err := c.cr.Read()
			if errors.Is(err, io.EOF) {
				return false
			}
			if err != nil {
				c.err = fmt.Errorf("read line %d: %w", lr.Line(), err)
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
			n = len(rec)
			if n > c.proj[0] {
				c.gbuf.set(rec, c.proj)
			}
		}
		if n <= c.proj[0] { // no bound column at all: nothing for gocsv to map
			c.row = new(T)
			return true
		}
		v, err := c.um.Read()
		if err == nil && c.gcr.InputOffset() == c.gbuf.total {
			c.row = v.(*T)
			return true
		}
		if pe := (*csv.ParseError)(nil); errors.As(err, &pe) || errors.Is(err, io.EOF) || c.gcr.InputOffset() != c.gbuf.total {
			// gocsv's reader must read back exactly the record written.
			c.err = fmt.Errorf("line %d: gocsv re-read the record differently: %v", c.line, err)
			return false
		}
		c.row = new(T) // a value gocsv could not convert
		if c.problem == "" {
			c.problem = err.Error()
		}
		return true
	}
	return false
}

// plainLine: a line encoding/csv would split at its commas and nothing
// else (no quote; no CR, which it may drop at a line's end).
func plainLine(b []byte) bool {
	return bytes.IndexByte(b, '"') < 0 && bytes.IndexByte(b, '\r') < 0
}

// scan is the fast path's split of a plain line: it finds the commas,
// the trimmed span of each bound field, applies check's rules in check's
// order and writes the record gocsv reads (the bound fields up to the end
// of the line, trimmed; they hold no quote, comma or line break, so they are
// written as they are). skip: a blank row.
func (c *CSVRows[T]) scan(b []byte) (n int, skip bool) {
	offs, after := commaOffsets(b, c.offs[:0], c.width)
	c.offs = offs
	n = len(offs) + 1
	if len(offs) == c.width { // more fields than the header: count the rest
		n += bytes.Count(b[after:], comma)
	}
	content := false
	for _, col := range c.checked {
		if col >= n {
			break
		}
		s, e := 0, len(b)
		if col > 0 {
			s = int(offs[col-1]) + 1
		}
		if col < len(offs) {
			e = int(offs[col])
		}
		s, e = trimSpan(b, s, e)
		c.spans[col] = csvSpan{s, e}
		content = content || s < e
	}
	if !content && blankBytes(b) { // (bound fields blank: the row is blank if the line is)
		return n, true
	}
	c.problem = ""
	switch {
	case n < c.width:
		c.problem = fmt.Sprintf("want %d fields, got %d", c.width, n)
	case n > c.width && !blankBytes(b[offs[c.width-1]+1:]):
		c.problem = fmt.Sprintf("want %d fields, got %d", c.width, n)
	default:
		for _, bd := range c.binds {
			if sp := c.spans[bd.col]; sp.e-sp.s > c.maxField {
				c.problem = fmt.Sprintf("%s longer than %d bytes", bd.name, c.maxField)
				break
			}
		}
	}
	if n > c.proj[0] {
		c.gbuf.setSpans(b, c.spans, c.proj, n)
	}
	return n, false
}

// commaOffsets appends to dst the offsets in b of its commas, up to limit
// of them, eight bytes at a time. after is where the limit-th comma ends
// (len(b) when there are fewer).
func commaOffsets(b []byte, dst []int32, limit int) (offs []int32, after int) {
	const ones, high7 = 0x0101010101010101, 0x7f7f7f7f7f7f7f7f
	i := 0
	for ; i+8 <= len(b); i += 8 {
		v := binary.LittleEndian.Uint64(b[i:]) ^ (ones * ',')
		t := ^((v&high7 + high7) | v | high7) // the high bit of each byte of v that is zero, i.e. a comma in b
		for t != 0 {
			at := i + bits.TrailingZeros64(t)>>3
			if dst = append(dst, int32(at)); len(dst) == limit {
				return dst, at + 1
			}
			t &= t - 1
		}
	}
	for ; i < len(b); i++ {
		if b[i] == ',' {
			if dst = append(dst, int32(i)); len(dst) == limit {
				return dst, i + 1
			}
		}
	}
	return dst, len(b)
}

var comma = []byte{','}

// trimSpan is strings.TrimSpace on b[s:e], as offsets.
func trimSpan(b []byte, s, e int) (int, int) {
	for s < e {
		if c := b[s]; c < utf8.RuneSelf {
			if asciiSpace[c] == 0 {
				break
			}
			s++
			continue
		} else if !spaceLead(c) {
			break
		}
		r, size := utf8.DecodeRune(b[s:e])
		if !unicode.IsSpace(r) {
			break
		}
		s += size
	}
	for e > s {
		c := b[e-1]
		if c < utf8.RuneSelf {
			if asciiSpace[c] == 0 {
				break
			}
			e--
			continue
		}
		k := e - 1 // where DecodeLastRune starts the last rune
		for k > s && k > e-utf8.UTFMax && !utf8.RuneStart(b[k]) {
			k--
		}
		if !spaceLead(b[k]) {
			break
		}
		r, size := utf8.DecodeLastRune(b[s:e])
		if !unicode.IsSpace(r) {
			break
		}
		e -= size
	}
	return s, e
}

// spaceLead: c leads the UTF-8 encoding of a non-ASCII space (U+0085,
// U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000);
// Hangul never does.
func spaceLead(c byte) bool { return c == 0xC2 || c == 0xE1 || c == 0xE2 || c == 0xE3 }

var asciiSpace = [utf8.RuneSelf]uint8{'\t': 1, '\n': 1, '\v': 1, '\f': 1, '\r': 1, ' ': 1}

// blankBytes: every comma-separated field of b is empty after TrimSpace.
func blankBytes(b []byte) bool {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c != ',' && asciiSpace[c] == 0 {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if !unicode.IsSpace(r) {
			return false
		}
		i += size
	}
	return true
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
func (c *CSVRows[T]) Row() *T { return c.row }

// Fields are the current record's fields (bound ones trimmed); valid until Next.
func (c *CSVRows[T]) Fields() []string {
	if c.rec == nil && c.fast != nil {
		c.rec = strings.Split(string(c.fast), ",")
		for _, b := range c.binds {
			if b.col < len(c.rec) {
				c.rec[b.col] = strings.TrimSpace(c.rec[b.col])
			}
		}
	}
	return c.rec
}

// Line is the physical line the current row starts on.
func (c *CSVRows[T]) Line() int { return c.line }

// Problem is why the current row is structurally unusable (too long, wrong
// field count, over-long field), or "" when it is well formed.
func (c *CSVRows[T]) Problem() string { return c.problem }

// Raw is the current row's text as read (several lines for a quoted field
// with line breaks; the head of an over-long line). Not card-masked.
func (c *CSVRows[T]) Raw() string {
	if c.fast != nil {
		return string(c.fast)
	}
	return string(c.feed.raw)
}

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
	start     int    // physical line raw starts on (csv.Reader's count includes the closing `"` line of a cut)
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
			f.pending = f.buf
		case !f.lr.Next():
			if err := f.lr.Err(); err != nil {
				return 0, err
			}
			return 0, io.EOF
		default:
			f.take(f.lr.Bytes(), f.lr.TooLong())
		}
	}
	n := copy(p, f.pending)
	f.pending = f.pending[n:]
	return n, nil
}

// take queues line b (read from lr) for encoding/csv and adds it to the
// record's raw text.
func (f *csvFeed) take(b []byte, tooLong bool) {
	if tooLong {
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
		} else {
			f.start = f.lr.Line()
		}
		f.raw = append(f.raw, b...)
	}
	f.buf = append(append(f.buf[:0], b...), '\n')
	f.pending = f.buf
}

// replayFeed is the input of gocsv's csv.Reader: one CSV-encoded record at
// a time, set just before gocsv reads it. csv.Reader never reads past the
// newline ending a record, so nothing is left over between records.
type replayFeed struct {
	buf   []byte
	off   int
	total int64 // bytes of all records set so far
}

// set encodes the fields of rec at the ascending indexes cols as one CSV
// record, up to the end of rec (a short row gives a shorter record, so gocsv
// leaves the missing fields alone), quoting the fields that need it.
func (f *replayFeed) set(rec []string, cols []int) {
	n := 0
	for n < len(cols) && cols[n] < len(rec) {
		n++
	}
	b := f.buf[:0]
	for i, col := range cols[:n] {
		if i > 0 {
			b = append(b, ',')
		}
		s := rec[col]
		if !needsQuote(s) && (s != "" || n > 1) {
			b = append(b, s...)
			continue
		}
		// Quoted; a lone empty field as "" so the line is not skipped as empty.
		b = append(b, '"')
		for {
			j := strings.IndexByte(s, '"')
			if j < 0 {
				break
			}
			b = append(append(b, s[:j+1]...), '"')
			s = s[j+1:]
		}
		b = append(append(b, s...), '"')
	}
	f.buf, f.off = append(b, '\n'), 0
	f.total += int64(len(f.buf))
}

// setSpans is set for a plain line b of n fields whose bound fields are at
// spans: no field of it needs quoting.
func (f *replayFeed) setSpans(b []byte, spans []csvSpan, cols []int, n int) {
	k := 0
	for k < len(cols) && cols[k] < n {
		k++
	}
	out := f.buf[:0]
	for i, col := range cols[:k] {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, b[spans[col].s:spans[col].e]...)
	}
	if k == 1 && len(out) == 0 {
		out = append(out, '"', '"') // a lone empty field, not an empty line
	}
	f.buf, f.off = append(out, '\n'), 0
	f.total += int64(len(f.buf))
}

func needsQuote(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"', ',', '\r', '\n':
			return true
		}
	}
	return false
}

func (f *replayFeed) Read(p []byte) (int, error) {
	if f.off >= len(f.buf) {
		return 0, io.EOF
	}
	n := copy(p, f.buf[f.off:])
	f.off += n
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
