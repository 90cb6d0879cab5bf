package parsekit

import (
	"encoding/binary"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/transform"
)

// cp949Table maps a double-byte CP949 code (lead 0x81-0xFE, trail 0x41-0xFE)
// to its rune, 0 when the pair is not a character. It is read from
// x/text's decoder once, so the two decoders cannot disagree (FuzzCP949
// checks they do not); every rune of CP949 is in the BMP.
var cp949Table = sync.OnceValue(func() *[126 * 190]uint16 {
	var t [126 * 190]uint16
	dec := korean.EUCKR.NewDecoder()
	var out [8]byte
	for lead := 0x81; lead <= 0xFE; lead++ {
		for trail := 0x41; trail <= 0xFE; trail++ {
			n, m, err := dec.Transform(out[:], []byte{byte(lead), byte(trail)}, true)
			if err != nil || m != 2 {
				continue
			}
			r, size := utf8.DecodeRune(out[:n])
			if size == n && r != utf8.RuneError && r <= 0xFFFF {
				t[(lead-0x81)*190+trail-0x41] = uint16(r)
			}
		}
	}
	return &t
})

// cp949Decoder is korean.EUCKR's decoder (same output for every input,
// invalid bytes included) with ASCII runs copied in bulk and double-byte
// characters read from a table: the x/text decoder goes rune by rune through
// a switch and was the largest cost of parsing a CP949 file after hashing.
type cp949Decoder struct {
	table *[126 * 190]uint16
}

func newCP949Decoder() transform.Transformer { return cp949Decoder{table: cp949Table()} }

func (cp949Decoder) Reset() {}

func (d cp949Decoder) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		c0 := src[nSrc]
		if c0 < utf8.RuneSelf {
			// Copy the ASCII run.
			end := nSrc + 1
			for end+8 <= len(src) && binary.LittleEndian.Uint64(src[end:])&0x8080808080808080 == 0 {
				end += 8
			}
			for end < len(src) && src[end] < utf8.RuneSelf {
				end++
			}
			n := copy(dst[nDst:], src[nSrc:end])
			nDst += n
			nSrc += n
			if nSrc < end {
				return nDst, nSrc, transform.ErrShortDst
			}
			continue
		}
		var r rune
		size := 1
		switch {
		case 0x81 <= c0 && c0 < 0xFF:
			if nSrc+1 >= len(src) {
				if !atEOF {
					return nDst, nSrc, transform.ErrShortSrc
				}
				r = utf8.RuneError
				break
			}
			c1 := src[nSrc+1]
			size = 2
			if c1 >= 0x41 && c1 <= 0xFE {
				r = rune(d.table[int(c0-0x81)*190+int(c1-0x41)])
			}
			if r == 0 {
				r = utf8.RuneError
				if c1 < utf8.RuneSelf {
					size = 1 // the trail is ASCII: keep it for the next round
				}
			}
		default:
			r = utf8.RuneError
		}
		if nDst+3 > len(dst) { // no rune of CP949 is longer (all are in the BMP)
			return nDst, nSrc, transform.ErrShortDst
		}
		if r >= 0x800 { // Hangul, Hanja, most symbols, U+FFFD
			dst[nDst], dst[nDst+1], dst[nDst+2] = 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F
			nDst += 3
		} else { // Greek, Cyrillic, Latin-1 symbols
			nDst += utf8.EncodeRune(dst[nDst:], r)
		}
		nSrc += size
	}
	return nDst, nSrc, nil
}
