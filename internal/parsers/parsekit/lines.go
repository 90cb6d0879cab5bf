package parsekit

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// LineReader yields physical lines without their line terminator (LF or CRLF),
// counting from 1. A line longer than the limit is reported as TooLong (its
// head is kept for the reject) and skipped to its end, so garbage never makes
// memory grow.
type LineReader struct {
	r       *bufio.Reader
	max     int
	n       int
	line    []byte
	tooLong bool
	err     error
	long    []byte
}

// NewLineReader reads r with lines of at most max bytes.
func NewLineReader(r io.Reader, max int) *LineReader {
	if max <= 0 {
		max = DefaultMaxLineBytes
	}
	size := 64 << 10
	if max+2 > size {
		size = max + 2
	}
	return &LineReader{r: bufio.NewReaderSize(r, size), max: max}
}

// Next advances to the next line; false at the end of input or on a read error (see Err).
func (l *LineReader) Next() bool {
	if l.err != nil {
		return false
	}
	l.tooLong = false
	b, err := l.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		l.tooLong = true
		l.long = append(l.long[:0], b[:min(len(b), 200)]...)
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = l.r.ReadSlice('\n')
		}
		b = l.long
	}
	if err != nil && !errors.Is(err, io.EOF) {
		l.err = err
		return false
	}
	if len(b) == 0 && errors.Is(err, io.EOF) {
		l.err = io.EOF
		return false
	}
	if errors.Is(err, io.EOF) {
		l.err = io.EOF // last line without a terminator: yield it, then stop
	}
	l.n++
	b = bytes.TrimSuffix(b, []byte{'\n'})
	b = bytes.TrimSuffix(b, []byte{'\r'})
	if !l.tooLong && len(b) > l.max {
		l.tooLong = true
	}
	l.line = b
	return true
}

// Bytes is the current line; valid until the next call to Next.
func (l *LineReader) Bytes() []byte { return l.line }

// Text is the current line as a string.
func (l *LineReader) Text() string { return string(l.line) }

// Line is the 1-based number of the current line.
func (l *LineReader) Line() int { return l.n }

// TooLong reports whether the current line exceeded the limit (Bytes then holds its head).
func (l *LineReader) TooLong() bool { return l.tooLong }

// Err is the read error that stopped Next, or nil at a clean end of input.
func (l *LineReader) Err() error {
	if errors.Is(l.err, io.EOF) {
		return nil
	}
	return l.err
}
