package publish

import (
	"bufio"
	"io"
	"sync"

	"github.com/pierrec/lz4/v4"
	"github.com/segmentio/kafka-go/compress"
	"github.com/segmentio/kafka-go/compress/snappy"
	"github.com/segmentio/kafka-go/compress/zstd"
)

// Record batches are compressed through the codecs in compress.Codecs: the
// ingest's own (produce.go) and those of kafka-go's Writers (the pusher's
// unmatched topic). kafka-go's lz4 codec writes LZ4
// frames with 4 MiB blocks and an xxHash content checksum: the checksum and
// the large block were a third of the time of compressing a 1 MiB batch of
// punches, and compression an eighth of the ingest's CPU. The frames written
// here use 256 KiB blocks and no content checksum (each block still has its
// size, and the record batch its CRC-32C); both are standard LZ4 frame
// options that Kafka's brokers and every client read. Reading stays
// kafka-go's.
//
// Snappy (kafka.compression: snappy, the default) is kafka-go's own codec
// at its fastest level, s2's snappy-compatible encoder: kafka-go's default
// level is the "better" one, 2.5 times slower on punch batches for a 2%
// smaller output. The output is plain xerial-framed snappy, as the Java
// client writes it. It compresses punch batches 2.5 times faster than the
// lz4 here, 18% larger (a ratio of 3.3 against 3.9). With the embedded
// broker keeping records on disk, those bytes cost it less than the ingest
// saves: in the 10 M backfill, alternated, the ingest used 4-10 CPU
// seconds less and the broker and the pusher no more (docs/benchmarks.md,
// session 9). Before the broker wrote to disk, its memory made lz4 the
// better choice. Zstd (kafka.compression: zstd) is written at level 1: on
// punch batches it gives the same ratio as kafka-go's default level 3 (8.1,
// 2.5 times snappy's) 25% faster; for an ingest that sends over a slow link
// it is the choice, but over loopback it cost the ingest more CPU than it
// saved the broker.
func init() {
	compress.Codecs[compress.Lz4] = lz4Codec{}
	compress.Codecs[compress.Snappy] = &snappy.Codec{Compression: snappy.FasterCompression}
	compress.Codecs[compress.Zstd] = &zstd.Codec{Level: 1}
}

type lz4Codec struct{}

func (lz4Codec) Code() int8   { return int8(compress.Lz4) }
func (lz4Codec) Name() string { return "lz4" }

func (lz4Codec) NewReader(r io.Reader) io.ReadCloser { return compress.Lz4Codec.NewReader(r) }

var lz4Writers sync.Pool

var lz4Options = []lz4.Option{lz4.BlockSizeOption(lz4.Block256Kb), lz4.ChecksumOption(false)}

// NewWriter returns a compressor behind a 64 KiB buffer: a kafka-go Writer
// writes a record field by field, and every Write of the lz4 writer has a
// cost of its own (a fifth of the ingest benchmark's CPU went to small
// Writes). The ingest's one large Write goes past the buffer.
func (lz4Codec) NewWriter(w io.Writer) io.WriteCloser {
	z, _ := lz4Writers.Get().(*lz4Writer)
	if z == nil {
		z = &lz4Writer{z: lz4.NewWriter(w)}
		z.buf = bufio.NewWriterSize(z.z, 64<<10)
	} else {
		z.z.Reset(w)
		z.buf.Reset(z.z)
	}
	if err := z.z.Apply(lz4Options...); err != nil {
		panic(err) // fixed, valid options on a fresh or reset writer
	}
	z.open = true
	return z
}

type lz4Writer struct {
	z    *lz4.Writer
	buf  *bufio.Writer
	open bool
}

func (w *lz4Writer) Write(p []byte) (int, error) { return w.buf.Write(p) }

func (w *lz4Writer) Close() error {
	if !w.open {
		return nil
	}
	w.open = false
	err := w.buf.Flush()
	if cerr := w.z.Close(); err == nil {
		err = cerr
	}
	w.z.Reset(nil)
	w.buf.Reset(nil)
	lz4Writers.Put(w)
	return err
}
