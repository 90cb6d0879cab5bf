// Package parsers is the registry of vendor export layouts: it decodes a
// file (UTF-8 with or without BOM, CP949/EUC-KR, NULs stripped), detects its
// layout from content (header row, line shape, XML root) with the file name
// as a tie-breaker, and streams it through that layout's parser.
//
// Guarantee: a file either parses (every row becomes punches or a reject,
// nothing is dropped silently) or fails as a whole with a *parsekit.FileError
// naming the file and the reason; it is never an empty success.
package parsers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/parsers/adtcaps"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
	"github.com/attendance-pipeline/attnd/internal/parsers/secom"
	"github.com/attendance-pipeline/attnd/internal/parsers/telecop"
)

// Vendors are the vendor names a request may force.
var vendors = []string{"adtcaps", "secom", "telecop"}

// Layouts returns every known layout, in a fixed order.
func Layouts() []parsekit.Layout {
	var all []parsekit.Layout
	all = append(all, adtcaps.Layouts()...)
	all = append(all, secom.Layouts()...)
	all = append(all, telecop.Layouts()...)
	return all
}

// Lookup finds a layout by name.
func Lookup(name string) (parsekit.Layout, bool) {
	for _, l := range Layouts() {
		if l.Name == name {
			return l, true
		}
	}
	return parsekit.Layout{}, false
}

// Request says how to parse one file.
type Request struct {
	Vendor  string // "", "auto" or a vendor name: restricts detection
	Layout  string // "", "auto" or a layout name: skips detection
	Name    string // file name: a detection hint and the default Options.File
	Options parsekit.Options
}

// Result says what was parsed.
type Result struct {
	Vendor, Layout, Encoding string
	Punches, Rejects         int
}

// headBytes is how much decoded text layout detection looks at.
const headBytes = 8 << 10

// Parse detects encoding and layout and streams punches and rejects to emit
// in file order. File-level failures are *parsekit.FileError.
func Parse(ctx context.Context, r io.Reader, req Request, emit parsekit.Emitter) (Result, error) {
	opt := req.Options
	if opt.File == "" {
		opt.File = req.Name
	}
	opt = opt.WithDefaults()
	fileErr := func(reason string) error { return &parsekit.FileError{File: opt.File, Reason: reason} }

	text, enc, err := parsekit.DecodeText(ctxReader{ctx, r})
	if err != nil {
		if errors.Is(err, parsekit.ErrNotText) {
			return Result{}, fileErr(err.Error())
		}
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		return Result{}, fileErr(fmt.Sprintf("read: %v", err))
	}
	br := newPeekReader(text, headBytes)
	head, err := br.head()
	if err != nil {
		return Result{}, fileErr(fmt.Sprintf("read: %v", err))
	}
	if strings.TrimSpace(head) == "" {
		return Result{}, fileErr("empty file: no rows")
	}
	layout, err := choose(head, req)
	if err != nil {
		return Result{}, fileErr(err.Error())
	}
	res := Result{Vendor: layout.Vendor, Layout: layout.Name, Encoding: enc}
	counter := &countingEmitter{next: emit}
	err = layout.Parse(br, opt, counter)
	res.Punches, res.Rejects = counter.punches, counter.rejects
	if err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		return res, err
	}
	return res, nil
}

// choose picks the layout for a head. A forced layout wins; otherwise every
// layout of the allowed vendors is sniffed, and the file name breaks ties.
func choose(head string, req Request) (parsekit.Layout, error) {
	vendor := strings.ToLower(strings.TrimSpace(req.Vendor))
	if vendor == "auto" {
		vendor = ""
	}
	if vendor != "" && !contains(vendors, vendor) {
		return parsekit.Layout{}, fmt.Errorf("unknown vendor %q (want adtcaps, secom, telecop or auto)", req.Vendor)
	}
	if name := strings.TrimSpace(req.Layout); name != "" && name != "auto" {
		l, ok := Lookup(name)
		if !ok {
			return parsekit.Layout{}, fmt.Errorf("unknown layout %q (want one of %s)", name, strings.Join(layoutNames(), ", "))
		}
		if vendor != "" && l.Vendor != vendor {
			return parsekit.Layout{}, fmt.Errorf("layout %s is a %s layout, not %s", name, l.Vendor, vendor)
		}
		return l, nil
	}
	var hits []parsekit.Layout
	for _, l := range Layouts() {
		if vendor != "" && l.Vendor != vendor {
			continue
		}
		if l.Sniff != nil && l.Sniff(head) {
			hits = append(hits, l)
		}
	}
	if len(hits) > 1 && req.Name != "" {
		base := filepath.Base(req.Name)
		var hinted []parsekit.Layout
		for _, l := range hits {
			if l.FileHint != nil && l.FileHint(base) {
				hinted = append(hinted, l)
			}
		}
		if len(hinted) > 0 {
			hits = hinted
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		what := "any known layout"
		if vendor != "" {
			what = "any " + vendor + " layout"
		}
		return parsekit.Layout{}, fmt.Errorf("content matches no layout (%s); first line: %q", what, firstLine(head))
	default:
		names := make([]string, len(hits))
		for i, l := range hits {
			names[i] = l.Name
		}
		return parsekit.Layout{}, fmt.Errorf("content matches several layouts (%s); force one with --layout", strings.Join(names, ", "))
	}
}

func layoutNames() []string {
	var n []string
	for _, l := range Layouts() {
		n = append(n, l.Name)
	}
	sort.Strings(n)
	return n
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func firstLine(head string) string {
	head = strings.TrimLeft(head, "\r\n")
	if i := strings.IndexAny(head, "\r\n"); i >= 0 {
		head = head[:i]
	}
	if len(head) > 80 {
		cut := 80
		for cut > 0 && !utf8.RuneStart(head[cut]) {
			cut--
		}
		head = head[:cut] + "…"
	}
	return head
}

type countingEmitter struct {
	next             parsekit.Emitter
	punches, rejects int
}

func (c *countingEmitter) Punch(p attendance.Punch) error {
	c.punches++
	return c.next.Punch(p)
}

func (c *countingEmitter) Reject(r attendance.Reject) error {
	c.rejects++
	return c.next.Reject(r)
}

// ctxReader stops a long parse when its context is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// peekReader buffers the first n bytes of decoded text for sniffing and then
// replays them, so detection never needs a second pass over the file.
type peekReader struct {
	r   io.Reader
	buf []byte
	off int
	n   int
	got bool
}

func newPeekReader(r io.Reader, n int) *peekReader { return &peekReader{r: r, n: n} }

func (p *peekReader) head() (string, error) {
	if !p.got {
		p.got = true
		p.buf = make([]byte, p.n)
		k, err := io.ReadFull(p.r, p.buf)
		p.buf = p.buf[:k]
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return "", err
		}
	}
	return string(p.buf), nil
}

func (p *peekReader) Read(b []byte) (int, error) {
	if p.off < len(p.buf) {
		k := copy(b, p.buf[p.off:])
		p.off += k
		return k, nil
	}
	return p.r.Read(b)
}
