package parsekit

import "testing"

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
