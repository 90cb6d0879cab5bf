package publish

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pierrec/lz4/v4"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/segmentio/kafka-go/compress/snappy"
	"github.com/segmentio/kafka-go/compress/zstd"
)

// roundTrip compresses in with codec, written in pieces of at most piece
// bytes as kafka-go writes a record field by field, reads the frame back
// with kafka-go's reader and returns it.
func roundTrip(t *testing.T, codec compress.Codec, in []byte, piece int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := codec.NewWriter(&buf)
	for i := 0; i < len(in); i += piece {
		if _, err := w.Write(in[i:min(i+piece, len(in))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rd := codec.NewReader(bytes.NewReader(buf.Bytes()))
	got, err := io.ReadAll(rd)
	rd.Close()
	if err != nil || !bytes.Equal(got, in) {
		t.Fatalf("%s, %d bytes: kafka-go reader: %v, equal %v", codec.Name(), len(in), err, bytes.Equal(got, in))
	}
	return buf.Bytes()
}

// randomJSONish is n bytes of JSON-like text with Hangul.
func randomJSONish(r *rand.Rand, n int) []byte {
	in := make([]byte, n)
	for i := range in {
		in[i] = "{}\":,abcdef0123456789김"[r.IntN(24)]
	}
	return in
}

// The lz4 codec kafka-go uses is ours: its frames (256 KiB blocks, no
// content checksum) read back with kafka-go's reader and the lz4 library's,
// for empty, small and multi-block inputs, and the writers are reusable.
func TestLz4Codec(t *testing.T) {
	codec := compress.Lz4.Codec()
	if _, ok := codec.(lz4Codec); !ok {
		t.Fatalf("kafka-go's lz4 codec is %T", codec)
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, 100, 300 << 10, 1 << 20, 3<<20 + 17} {
		for range 2 {
			in := randomJSONish(r, n)
			frame := roundTrip(t, codec, in, max(n, 1))
			got, err := io.ReadAll(lz4.NewReader(bytes.NewReader(frame)))
			if err != nil || !bytes.Equal(got, in) {
				t.Fatalf("%d bytes: lz4 reader: %v", n, err)
			}
			// Frame descriptor: FLG without content checksum (bit 2), BD block size 256 KiB (5).
			if len(frame) < 6 || frame[4]&0x04 != 0 || frame[5]>>4&7 != 5 {
				t.Fatalf("frame header % x: want no content checksum and 256 KiB blocks", frame[:min(len(frame), 7)])
			}
		}
	}
}

// Snappy, when configured, is kafka-go's codec at its fastest level: xerial
// frames that kafka-go's reader reads back.
func TestSnappyCodec(t *testing.T) {
	codec, ok := compress.Snappy.Codec().(*snappy.Codec)
	if !ok || codec.Compression != snappy.FasterCompression || codec.Framing != snappy.Framed {
		t.Fatalf("kafka-go's snappy codec is %#v, want the framed, fastest level", compress.Snappy.Codec())
	}
	r := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{0, 1, 100, 40 << 10, 1<<20 + 3} {
		frame := roundTrip(t, codec, randomJSONish(r, n), 300)
		if n > 0 && !bytes.HasPrefix(frame, []byte("\x82SNAPPY\x00")) {
			t.Fatalf("%d bytes: frame starts % x, want the xerial header", n, frame[:min(len(frame), 8)])
		}
	}
}

// Zstd, when configured, is kafka-go's codec at level 1, read back by
// kafka-go's reader.
func TestZstdCodec(t *testing.T) {
	codec, ok := compress.Zstd.Codec().(*zstd.Codec)
	if !ok || codec.Level != 1 {
		t.Fatalf("kafka-go's zstd codec is %#v, want level 1", compress.Zstd.Codec())
	}
	roundTrip(t, codec, bytes.Repeat([]byte(`{"event_id":"0123abcd","site":"hq","name":"김민수"}`), 5000), 300)
}

// An incompressible block is stored as it is (the size's high bit set) and
// reads back.
func TestLz4CodecIncompressible(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	in := make([]byte, 300<<10+5)
	for i := range in {
		in[i] = byte(r.Uint32())
	}
	frame := roundTrip(t, compress.Lz4.Codec(), in, 1000)
	if size := binary.LittleEndian.Uint32(frame[7:]); size != 1<<31|256<<10 {
		t.Fatalf("first block size field %#x, want 256 KiB stored uncompressed", size)
	}
	if got, err := io.ReadAll(lz4.NewReader(bytes.NewReader(frame))); err != nil || !bytes.Equal(got, in) {
		t.Fatalf("lz4 reader: %v", err)
	}
}

// BenchmarkEncodeBatch encodes 1 MiB of punch messages as one record
// batch with each codec, as the ingest does for a partition's share of a
// chunk, and reports the compression ratio beside the speed (MB/s of
// messages in).
func BenchmarkEncodeBatch(b *testing.B) {
	var msgs []kafka.Message
	total := 0
	for i, p := range punches(20000) {
		v := appendPunch(nil, &p)
		if total += len(v); total > 1<<20 {
			break
		}
		msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "hq/%07d", i%3000), Value: v})
	}
	plain, err := encodeBatch(nil, nil, msgs, 0, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	for _, comp := range []kafka.Compression{0, kafka.Snappy, kafka.Lz4, kafka.Zstd, kafka.Gzip} {
		b.Run(fmt.Sprint(comp), func(b *testing.B) {
			var buf, scratch []byte
			b.SetBytes(int64(total))
			for b.Loop() {
				if buf, err = encodeBatch(buf, &scratch, msgs, comp, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(plain))/float64(len(buf)), "ratio")
		})
	}
}
