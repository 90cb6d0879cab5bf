package parsekit

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/transform"
)

// sameAsXText checks that the table decoder gives x/text's output for src,
// whole and read one byte at a time (every chunk boundary).
func sameAsXText(t *testing.T, src []byte) {
	t.Helper()
	want, _, err := transform.Bytes(korean.EUCKR.NewDecoder(), src)
	if err != nil {
		t.Fatalf("x/text: %v", err)
	}
	got, _, err := transform.Bytes(newCP949Decoder(), src)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("% x: got %q (%v), x/text %q", src, got, err, want)
	}
	got, err = io.ReadAll(transform.NewReader(iotest.OneByteReader(bytes.NewReader(src)), newCP949Decoder()))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("% x one byte at a time: got %q (%v), x/text %q", src, got, err, want)
	}
}

func TestCP949EveryPair(t *testing.T) {
	var all []byte
	for c0 := 0x80; c0 <= 0xFF; c0++ {
		for c1 := 0; c1 <= 0xFF; c1++ {
			all = append(all, byte(c0), byte(c1), 'a')
		}
	}
	sameAsXText(t, all)
	for _, s := range []string{"", "a", "\x81", "\xb0", "\xb0\xa1", "\xff", "\x80a", "\xb0\x41", "\xc7\x41", "\xfe\xfe\xfe"} {
		sameAsXText(t, []byte(s))
	}
}

func TestCP949Random(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, rng.IntN(64))
		for i := range b {
			if rng.IntN(3) == 0 {
				b[i] = byte(0x20 + rng.IntN(0x5f))
			} else {
				b[i] = byte(0x80 + rng.IntN(0x80))
			}
		}
		sameAsXText(t, b)
	}
}

func FuzzCP949(f *testing.F) {
	f.Add([]byte("0851021234\xb1\xe8\xb9\xce\xbc\xf6\x31"))
	f.Add([]byte("\xb0\xa1\x81\x41\xff\x80"))
	f.Fuzz(func(t *testing.T, b []byte) { sameAsXText(t, b) })
}

func BenchmarkCP949Decode(b *testing.B) {
	line, _ := korean.EUCKR.NewEncoder().Bytes([]byte("0851021234김민수10100000012345000120240105085102\r\n"))
	src := bytes.Repeat(line, 20000)
	b.Run("table", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			io.Copy(io.Discard, transform.NewReader(bytes.NewReader(src), newCP949Decoder()))
		}
	})
	b.Run("x/text", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			io.Copy(io.Discard, transform.NewReader(bytes.NewReader(src), korean.EUCKR.NewDecoder()))
		}
	})
}
