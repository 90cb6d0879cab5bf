package parsekit

import (
	"fmt"
	"testing"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

func TestNormalizeCard(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"0000000000000", ""},
		{" 0000 ", ""},
		{"1010000006780", "1010000006780"},
		{"00AB12", "00AB12"},
		{"00ab12", "00AB12"},
		{" 1234 ", "1234"},
		{"\t0000012\r", "0000012"},
		{"카드1234", "카드1234"},
	} {
		if got := NormalizeCard(c.in); got != c.want {
			t.Errorf("NormalizeCard(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// The card cache must tell apart cards that differ only by leading zeros or
// by length, and cards past the packed range.
func TestCardCacheKeys(t *testing.T) {
	o := Options{Site: "hq", CardKey: []byte("k")}.WithDefaults()
	cards := []string{"123", "0123", "00123", "12345678901234567", "012345678901234567", "123456789012345678", "12A", "12a"}
	got := map[string]string{}
	for range 2 { // the second round is served from the cache
		for _, c := range cards {
			p := o.Build(Row{Card: c})
			if want := CardHash(o.CardKey, NormalizeCard(c)); p.CardHash != want {
				t.Fatalf("card %q: hash %s, want %s", c, p.CardHash, want)
			}
			if prev, ok := got[c]; ok && prev != p.CardMasked {
				t.Fatalf("card %q: masked %q then %q", c, prev, p.CardMasked)
			}
			got[c] = p.CardMasked
		}
	}
}

// More cards than two generations hold: every answer is still right after
// generations turn over.
func TestCardCacheGenerations(t *testing.T) {
	o := Options{Site: "hq", CardKey: []byte("k")}.WithDefaults()
	for i := range 3 * cardGenMax {
		c := fmt.Sprintf("%013d", 1+i%(2*cardGenMax+7))
		if p := o.Build(Row{Card: c}); p.CardHash != CardHash(o.CardKey, c) || p.CardMasked != attendance.MaskCard(c) {
			t.Fatalf("card %s: got %s %s", c, p.CardMasked, p.CardHash)
		}
	}
	if n := len(o.cards.cur.numbers) + len(o.cards.old.numbers); n > 2*cardGenMax {
		t.Fatalf("cache holds %d cards, bound is %d", n, 2*cardGenMax)
	}
}
