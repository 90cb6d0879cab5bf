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
