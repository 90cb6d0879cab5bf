package parsekit

import (
	"strings"
	"unicode/utf8"
)

// Masking the raw text and reason of a reject. A parser masks card-like runs
// first (MaskRuns), in place, then the row's own card (MaskCardsIn, which
// Options.Reject applies to the raw text): masking a card found inside a
// longer run first would cut that run into pieces that no longer look like a
// card and leave them readable.

// MaskRuns masks every run of 8 or more ASCII letters and digits in s that
// holds a digit (only its last 4 characters stay), except the plausible
// dates and stamps (IsStamp) a reason must be able to quote. A digit glued
// before a card makes a longer run, which is masked whole; a line that glues
// its card to its neighbours (a Caps event line) is masked as one run, which
// is the price of never leaking a card from a misaligned line.
func MaskRuns(s string) string {
	var b []byte // allocated on the first run to mask
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && isAlnum(s[j]) {
			j++
		}
		if cardLikeRun(s[i:j]) {
			if b == nil {
				b = []byte(s)
			}
			for k := i; k < j-4; k++ {
				b[k] = '*'
			}
		}
		i = j + 1
	}
	if b == nil {
		return s
	}
	return string(b)
}

// cardLikeRun: a run of ASCII letters and digits MaskRuns masks.
func cardLikeRun(run string) bool {
	if len(run) < 8 || IsStamp(run) {
		return false
	}
	return strings.ContainsAny(run, "0123456789")
}

// IsStamp reports whether f is a plausible YYYYMMDD[HH[MM[SS]]] date or
// stamp (19xx/20xx, month 01-12, day 01-31, hour 00-24, minute and second
// 00-59), which a reason or raw text may show unmasked. "20109123456781" is
// no date: it is a 2 glued to a card.
func IsStamp(f string) bool {
	if len(f) < 8 || len(f) > 14 || len(f)%2 != 0 || !(f[:2] == "19" || f[:2] == "20") {
		return false
	}
	for i := 0; i < len(f); i++ {
		if f[i] < '0' || f[i] > '9' {
			return false
		}
	}
	in := func(i int, lo, hi string) bool { return i+2 > len(f) || (f[i:i+2] >= lo && f[i:i+2] <= hi) }
	return in(4, "01", "12") && in(6, "01", "31") && in(8, "00", "24") && in(10, "00", "59") && in(12, "00", "59")
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// MaskCardsIn masks every occurrence in s of each card (trimmed; more than 4
// characters) the way attendance.MaskCard masks a card: all but its last 4
// characters become '*'. Occurrences are found in s as given, ASCII letters
// compared case-insensitively (a card is the same card in either case),
// overlapping ones included, and all are masked at once: masking one never
// cuts another (of the same card or of another) into pieces that escape, and
// the tail one keeps never joins its neighbours into a readable card.
func MaskCardsIn(s string, cards ...string) string {
	var mask []bool // the bytes of s to mask; allocated on the first occurrence
	for _, c := range cards {
		c = strings.TrimSpace(c)
		if len(c) <= 4 {
			continue
		}
		hide := len(c) // bytes of c before its last 4 characters
		for n := 0; n < 4 && hide > 0; n++ {
			_, size := utf8.DecodeLastRuneInString(c[:hide])
			hide -= size
		}
		if hide == 0 {
			continue // 4 characters or fewer: MaskCard keeps them
		}
		for i := 0; i+len(c) <= len(s); i++ {
			if !equalFoldASCII(s[i:i+len(c)], c) {
				continue
			}
			if mask == nil {
				mask = make([]bool, len(s))
			}
			for k := i; k < i+hide; k++ {
				mask[k] = true
			}
		}
	}
	if mask == nil {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		_, size := utf8.DecodeRuneInString(s[i:])
		if mask[i] {
			b.WriteByte('*') // one '*' per character
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// equalFoldASCII is a == b with ASCII letters compared case-insensitively.
func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}
