package parsekit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/transform"
)

// Encodings DecodeText reports.
const (
	EncUTF8    = "utf-8"
	EncUTF8BOM = "utf-8-bom"
	EncCP949   = "cp949"
)

// SniffBytes is how much of a file DecodeText looks at to choose an encoding.
const SniffBytes = 64 << 10

// ErrNotText is returned (wrapped) when the head of a file is not text in any
// supported encoding.
var ErrNotText = errors.New("not a text file (binary content or unsupported encoding)")

// DecodeText returns r as UTF-8 text: NUL bytes stripped (Secom logs carry
// them), a UTF-8 BOM removed, CP949/EUC-KR decoded. The encoding is chosen from
// the first SniffBytes: valid UTF-8 wins, else CP949 if it decodes cleanly,
// else the file is not text. Line endings are left alone (LineReader handles
// CRLF and LF). It streams: memory does not grow with the file.
func DecodeText(r io.Reader) (io.Reader, string, error) {
	br := bufio.NewReaderSize(nulStripper{r}, SniffBytes)
	head, err := br.Peek(SniffBytes)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, "", fmt.Errorf("read: %w", err)
	}
	full := len(head) < SniffBytes // the whole file is in head
	if bytes.HasPrefix(head, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
		return br, EncUTF8BOM, nil
	}
	if looksBinary(head) {
		return nil, "", ErrNotText
	}
	if validUTF8Prefix(head, full) {
		return br, EncUTF8, nil
	}
	if cp949Clean(head, full) {
		return transform.NewReader(br, newCP949Decoder()), EncCP949, nil
	}
	return nil, "", ErrNotText
}

// validUTF8Prefix allows a rune cut at the end of a partial head.
func validUTF8Prefix(b []byte, full bool) bool {
	if utf8.Valid(b) {
		return true
	}
	if full {
		return false
	}
	for cut := 1; cut <= 3 && cut <= len(b); cut++ {
		if utf8.Valid(b[:len(b)-cut]) {
			return true
		}
	}
	return false
}

func cp949Clean(b []byte, full bool) bool {
	if !full && len(b) > 1 {
		// A partial head may end inside a double-byte char (then the head
		// without its last byte is clean) or right after one (then the
		// whole head is); dropping the last byte unconditionally would
		// leave a lone lead byte in the second case.
		return cp949Decodes(b) || cp949Decodes(b[:len(b)-1])
	}
	return cp949Decodes(b)
}

func cp949Decodes(b []byte) bool {
	out, _, err := transform.Bytes(korean.EUCKR.NewDecoder(), b)
	if err != nil {
		return false
	}
	return !bytes.ContainsRune(out, utf8.RuneError)
}

// looksBinary: control bytes other than TAB, CR, LF, FF and ESC are not text.
// (NULs were stripped before.)
func looksBinary(b []byte) bool {
	ctl := 0
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1b {
			ctl++
		}
	}
	return ctl > 0 && ctl*100 > len(b) // >1% control bytes
}

type nulStripper struct{ r io.Reader }

func (n nulStripper) Read(p []byte) (int, error) {
	for {
		k, err := n.r.Read(p)
		if k > 0 && bytes.IndexByte(p[:k], 0) >= 0 {
			j := 0
			for _, c := range p[:k] {
				if c != 0 {
					p[j] = c
					j++
				}
			}
			k = j
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}
