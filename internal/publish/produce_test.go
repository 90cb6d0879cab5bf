package publish

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// encodeBatch writes record sets that kafka-go's decoder reads back field
// for field, with every codec, and whose CRC and counts franz-go's batch
// decoder (another implementation of the format) agrees with. kfake checks
// the CRC and attributes of every produce in the other tests; Apache Kafka
// in the real-broker ones.
func TestEncodeBatchReadsBack(t *testing.T) {
	msgs := []kafka.Message{
		{Key: []byte("hq/1230001"), Value: []byte(`{"event_id":"a"}`)},
		{Key: nil, Value: []byte("no key")},
		{Key: []byte{}, Value: nil},
		{Key: []byte("k"), Value: []byte(strings.Repeat("출근 ", 3000)), Headers: []kafka.Header{{Key: "reject_id", Value: []byte("r1")}, {Key: "empty", Value: nil}}},
	}
	for i := range 300 { // offset deltas and lengths past one varint byte
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprint(i)), Value: bytes.Repeat([]byte{byte(i)}, i)})
	}
	now := time.UnixMilli(1735689600123)
	for _, comp := range []kafka.Compression{0, kafka.Gzip, kafka.Snappy, kafka.Lz4, kafka.Zstd} {
		t.Run(fmt.Sprint(comp), func(t *testing.T) {
			buf, err := encodeBatch(nil, nil, msgs, comp, now)
			if err != nil {
				t.Fatal(err)
			}
			var rs protocol.RecordSet
			if _, err := rs.ReadFrom(bytes.NewReader(buf)); err != nil {
				t.Fatal(err)
			}
			if rs.Version != 2 || int(rs.Attributes.Compression()) != int(comp) {
				t.Fatalf("version %d compression %d", rs.Version, rs.Attributes.Compression())
			}
			for i, want := range msgs {
				r, err := rs.Records.ReadRecord()
				if err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if r.Offset != int64(i) || !r.Time.Equal(now) {
					t.Fatalf("record %d: offset %d time %v", i, r.Offset, r.Time)
				}
				checkBytes(t, i, "key", r.Key, want.Key)
				checkBytes(t, i, "value", r.Value, want.Value)
				if len(r.Headers) != len(want.Headers) {
					t.Fatalf("record %d: %d headers", i, len(r.Headers))
				}
				for j, h := range want.Headers {
					if r.Headers[j].Key != h.Key || !bytes.Equal(r.Headers[j].Value, h.Value) {
						t.Fatalf("record %d header %d: %q=%q", i, j, r.Headers[j].Key, r.Headers[j].Value)
					}
				}
			}
			if _, err := rs.Records.ReadRecord(); err != io.EOF {
				t.Fatalf("after the last record: %v", err)
			}

			var b kmsg.RecordBatch
			if err := b.ReadFrom(buf[4:]); err != nil {
				t.Fatal(err)
			}
			if want := int32(crc32.Checksum(buf[4+21:], crc32.MakeTable(crc32.Castagnoli))); b.CRC != want {
				t.Fatalf("crc %x, want %x", b.CRC, want)
			}
			if int(b.Length) != len(buf)-16 || int(b.NumRecords) != len(msgs) || int(b.LastOffsetDelta) != len(msgs)-1 ||
				b.Magic != 2 || b.ProducerID != -1 || b.PartitionLeaderEpoch != -1 || b.FirstTimestamp != now.UnixMilli() {
				t.Fatalf("batch header %+v", b)
			}
		})
	}
}

func checkBytes(t *testing.T, i int, what string, r protocol.Bytes, want []byte) {
	t.Helper()
	if r == nil {
		if want != nil {
			t.Fatalf("record %d: %s null, want %q", i, what, want)
		}
		return
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if want == nil || !bytes.Equal(got, want) {
		t.Fatalf("record %d: %s %.40q, want %.40q", i, what, got, want)
	}
}

// A partition's messages are split into batches that stay under the
// broker's message.max.bytes, never an empty one.
func TestBatchLen(t *testing.T) {
	big := kafka.Message{Value: make([]byte, 300<<10)}
	small := kafka.Message{Value: make([]byte, 400)}
	huge := kafka.Message{Value: make([]byte, 2<<20)}
	for _, tc := range []struct {
		msgs []kafka.Message
		want int
	}{
		{[]kafka.Message{small, small}, 2},
		{[]kafka.Message{big, big, big, big, small}, 3},
		{[]kafka.Message{huge, small}, 1},
		{[]kafka.Message{small, huge}, 1},
	} {
		if got := batchLen(tc.msgs); got != tc.want {
			t.Errorf("batchLen of %d messages = %d, want %d", len(tc.msgs), got, tc.want)
		}
	}
}

// A batch as large as batchLen lets it be, of records that do not compress
// at all, stays under the broker's default message.max.bytes (1,048,588)
// with every codec: the codecs store incompressible data nearly as it is.
func TestIncompressibleBatchFits(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var msgs []kafka.Message
	for {
		v := make([]byte, 1000)
		for i := range v {
			v[i] = byte(rnd.Uint32())
		}
		next := append(msgs, kafka.Message{Key: []byte(fmt.Sprint(len(msgs))), Value: v})
		if batchLen(next) < len(next) {
			break
		}
		msgs = next
	}
	for _, comp := range []kafka.Compression{0, kafka.Gzip, kafka.Snappy, kafka.Lz4, kafka.Zstd} {
		buf, err := encodeBatch(nil, nil, msgs, comp, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		// The record set's int32 size is not part of the broker's limit.
		if size := len(buf) - 4; size > 1048588 {
			t.Errorf("%v: a batch of %d incompressible records is %d bytes, over message.max.bytes", comp, len(msgs), size)
		}
	}
}
