package parsekit

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

func TestMaskCardsIn(t *testing.T) {
	for _, tc := range []struct {
		s     string
		cards []string
		want  string
	}{
		{"x,0109338254950,y", []string{"0109338254950"}, "x,*********4950,y"},
		{"x,0109338254950,y", []string{" 0109338254950 "}, "x,*********4950,y"},
		{"x,1234,y", []string{"1234"}, "x,1234,y"}, // 4 characters: nothing to hide
		{"x,,y", []string{"", "  "}, "x,,y"},       // no card
		{"0109338254950", nil, "0109338254950"},    // no cards at all
		{"a,0109338254950,0109338254950", []string{"0109338254950"}, "a,*********4950,*********4950"},
		// Overlapping occurrences of one card: masking the first no longer
		// leaves the kept tail to join the rest into the card again.
		{"x,111111,y", []string{"11111"}, "x,**1111,y"},
		{"20101010101010", []string{"10101010"}, "20********1010"},
		// Two cards, one inside the other: neither is cut into escaping pieces.
		{"0109338254950", []string{"93382549", "0109338254950"}, "*********4950"},
		{"0109338254950", []string{"0109338254950", "93382549"}, "*********4950"},
		// Letters in either case are the same card.
		{"ab3de,AB3DE,Ab3De", []string{"aB3dE"}, "*b3de,*B3DE,*b3De"},
		// Non-ASCII: one '*' per character, the last 4 characters kept.
		{"카드:카드번호1234,", []string{"카드번호1234"}, "카드:****1234,"},
		{"카드번호12", []string{"카드번호12"}, "**번호12"},
	} {
		if got := MaskCardsIn(tc.s, tc.cards...); got != tc.want {
			t.Errorf("MaskCardsIn(%q, %q) = %q, want %q", tc.s, tc.cards, got, tc.want)
		}
	}
}

// FuzzMaskCardsIn: whatever the text, no card of more than 4 characters
// (letters and digits, in any case) is left in it, the text keeps its
// characters, and a card that occurs once, not overlapping itself, is masked
// exactly as attendance.MaskCard masks it.
func FuzzMaskCardsIn(f *testing.F) {
	f.Add("x,111111,y", "11111")
	f.Add("20101010101010", "10101010")
	f.Add("ab3de,AB3DE,Ab3De", "aB3dE")
	f.Add("2,0109338254950,김민수", "0109338254950")
	f.Fuzz(func(t *testing.T, s, card string) {
		if !utf8.ValidString(s) {
			return
		}
		card = strings.Map(func(r rune) rune {
			if r < utf8.RuneSelf && isAlnum(byte(r)) {
				return r
			}
			return -1
		}, card)
		got := MaskCardsIn(s, card)
		if utf8.RuneCountInString(got) != utf8.RuneCountInString(s) {
			t.Fatalf("MaskCardsIn(%q, %q) = %q: characters added or lost", s, card, got)
		}
		if len(card) <= 4 {
			if got != s {
				t.Fatalf("MaskCardsIn(%q, %q) = %q, want it unchanged", s, card, got)
			}
			return
		}
		if strings.Contains(upperASCII(got), upperASCII(card)) {
			t.Fatalf("MaskCardsIn(%q, %q) = %q: card left", s, card, got)
		}
		if occurrences(upperASCII(s), upperASCII(card)) == 1 && strings.Contains(s, card) {
			if want := strings.Replace(s, card, attendance.MaskCard(card), 1); got != want {
				t.Fatalf("MaskCardsIn(%q, %q) = %q, want %q", s, card, got, want)
			}
		}
	})
}

// upperASCII upper-cases ASCII letters only (as card matching does: 'ſ' is
// no 'S' there).
func upperASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

// occurrences counts sub in s, overlapping ones included.
func occurrences(s, sub string) int {
	n := 0
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			n++
		}
	}
	return n
}

func TestMaskRuns(t *testing.T) {
	for _, tc := range []struct{ s, want string }{
		{"20240105,0109338254950,김민수", "20240105,*********4950,김민수"},
		{"ATime 20240105075640 ok", "ATime 20240105075640 ok"},                 // a stamp a reason may quote
		{"20109123456781", "**********6781"},                                   // no date: a 2 glued to a card
		{"2024010508512x", "**********512x"},                                   // letters: no stamp
		{"20240102081", "*******2081"},                                         // odd length: no stamp
		{"ABCDEFGHIJ,1234567,160000012345", "ABCDEFGHIJ,1234567,********2345"}, // no digit; 7 long
		{"0851020001김민수10000000000000000320240105085102", "******0001김민수****************************5102"},
	} {
		if got := MaskRuns(tc.s); got != tc.want {
			t.Errorf("MaskRuns(%q) = %q, want %q", tc.s, got, tc.want)
		}
	}
}

// TestStamp14QuotesWhole: a stamp's error quotes it whole, so masking the
// reason's card-like runs masks a card glued into it (its time alone, 6
// characters, would be no card-like run).
func TestStamp14QuotesWhole(t *testing.T) {
	for _, s := range []string{"202401050000A0", "2024010512345x", "20240105", "x0240105123456"} {
		_, err := Stamp14(s, Seoul())
		if err == nil || !strings.Contains(err.Error(), `"`+s+`"`) {
			t.Errorf("Stamp14(%q) error %v, want it to quote the stamp whole", s, err)
		}
	}
	if _, err := Stamp14("20240230120000", Seoul()); err == nil {
		t.Error("Stamp14 accepted February 30")
	}
}
