package publish

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
)

// The ingest encodes its record batches itself and sends them with
// kafka-go's RawProduce, one request per topic partition, instead of going
// through kafka-go's Writer. The Writer copied every message through
// io.Readers field by field, looked up the topic's partitions once per
// message and ran a goroutine and timer per partition batch: with the
// compression, that was about a third of the ingest's CPU in the backfill,
// for messages the FileWriter had already cut into chunks
// (docs/benchmarks.md). Here a chunk's messages are grouped by partition
// (KeyHash, the same partition the Writer chose), each group becomes one
// or more v2 record batches (Kafka 0.11 and later) written into one buffer
// and compressed in one call, and the groups are sent in parallel. kafka-go
// still owns the connections, SASL, TLS, metadata and the protocol framing.

// maxBatchRecordBytes bounds the records (before compression) of one
// batch, as the Writer's BatchBytes did: a compressed batch then stays under
// the broker's default message.max.bytes (1 MiB) even when nothing
// compresses (every codec stores such data nearly as it is, plus a few
// bytes; TestIncompressibleBatchFits).
const maxBatchRecordBytes = 1<<20 - 4<<10

// metaTTL is how long a topic's partition list is reused; kafka-go's
// transport refreshes its own view of the cluster every 5 s as well.
const metaTTL = 5 * time.Second

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// batchHeaderLen is the size prefix of the record set plus the v2 batch
// header up to the first record.
const batchHeaderLen = 4 + 61

// partitionBatch is one topic partition's messages of a chunk, in order.
type partitionBatch struct {
	topic     string
	partition int
	msgs      []kafka.Message
}

// partitionCache keeps each topic's partition IDs for metaTTL.
type partitionCache struct {
	mu      sync.Mutex
	entries map[string]partitionEntry
}

type partitionEntry struct {
	ids []int
	at  time.Time
}

// partitions returns topic's partition IDs, sorted, as kafka-go's Writer
// hands them to its Balancer.
func (p *Publisher) partitions(ctx context.Context, topic string) ([]int, error) {
	c := &p.parts
	c.mu.Lock()
	e, ok := c.entries[topic]
	c.mu.Unlock()
	if ok && time.Since(e.at) < metaTTL {
		return e.ids, nil
	}
	res, err := p.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	var ids []int
	for _, t := range res.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("metadata of %s: %w", topic, t.Error)
		}
		for _, part := range t.Partitions {
			ids = append(ids, part.ID)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("metadata of %s: no partitions", topic)
	}
	slices.Sort(ids)
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]partitionEntry{}
	}
	c.entries[topic] = partitionEntry{ids: ids, at: time.Now()}
	c.mu.Unlock()
	return ids, nil
}

// group splits msgs by topic partition, keeping their order.
func (p *Publisher) group(ctx context.Context, msgs []kafka.Message) ([]*partitionBatch, error) {
	type tp struct {
		topic string
		part  int
	}
	var (
		out   []*partitionBatch
		index = map[tp]*partitionBatch{}
		topic string
		ids   []int
	)
	for _, m := range msgs {
		if m.Topic != topic || ids == nil {
			var err error
			if ids, err = p.partitions(ctx, m.Topic); err != nil {
				return nil, err
			}
			topic = m.Topic
		}
		k := tp{m.Topic, p.balancer.Balance(m, ids...)}
		b := index[k]
		if b == nil {
			b = &partitionBatch{topic: k.topic, partition: k.part}
			index[k] = b
			out = append(out, b)
		}
		b.msgs = append(b.msgs, m)
	}
	return out, nil
}

// produce writes one partition's messages, in order, as record batches of at
// most maxBatchRecordBytes; it returns how many messages were acknowledged
// before the first error.
func (p *Publisher) produce(ctx context.Context, b *partitionBatch) (int, error) {
	done := 0
	for done < len(b.msgs) {
		n := batchLen(b.msgs[done:])
		buf, err := p.encode(b.msgs[done : done+n])
		if err != nil {
			return done, fmt.Errorf("encode batch for %s/%d: %w", b.topic, b.partition, err)
		}
		res, err := p.client.RawProduce(ctx, &kafka.RawProduceRequest{
			Topic:        b.topic,
			Partition:    b.partition,
			RequiredAcks: kafka.RequireAll,
			RawRecords:   protocol.RawRecordSet{Reader: bytes.NewReader(buf)}, // copied into the request
		})
		if err == nil && res.Error != nil {
			err = res.Error
		}
		if err != nil {
			// Not recycled: a request cut off by ctx may still be reading it.
			return done, fmt.Errorf("produce %d messages to %s/%d: %w", n, b.topic, b.partition, err)
		}
		p.bufs.put(buf)
		done += n
	}
	return done, nil
}

// batchLen is how many of msgs (at least one) go into the next batch.
func batchLen(msgs []kafka.Message) int {
	size := 0
	for i, m := range msgs {
		size += recordOverhead + len(m.Key) + len(m.Value)
		for _, h := range m.Headers {
			size += 10 + len(h.Key) + len(h.Value)
		}
		if size > maxBatchRecordBytes && i > 0 {
			return i
		}
	}
	return len(msgs)
}

// recordOverhead bounds a record's bytes beside its key, value and headers:
// length, attributes, timestamp and offset deltas, key and value lengths,
// header count.
const recordOverhead = 5 + 1 + 1 + 5 + 5 + 5 + 5

// encode makes msgs' record set in a recycled buffer.
func (p *Publisher) encode(msgs []kafka.Message) ([]byte, error) {
	if p.comp == 0 {
		return encodeBatch(p.bufs.get(), nil, msgs, 0, time.Now())
	}
	scratch := p.scratch.get()
	buf, err := encodeBatch(p.bufs.get(), &scratch, msgs, p.comp, time.Now())
	p.scratch.put(scratch)
	return buf, err
}

// encodeBatch appends to dst[:0] msgs as one Kafka record set: its int32
// size, then a v2 record batch (base offset 0, every record stamped now),
// its records compressed with comp (written first into *scratch, grown as
// needed; scratch may be nil). The layout is Kafka's
// (DefaultRecordBatch in the Java client); kafka-go's reader, Apache Kafka
// and kfake read it back in the tests.
func encodeBatch(dst []byte, scratch *[]byte, msgs []kafka.Message, comp kafka.Compression, now time.Time) ([]byte, error) {
	b := append(dst[:0], make([]byte, batchHeaderLen)...)
	if comp == 0 {
		b = appendRecords(b, msgs)
	} else {
		if scratch == nil {
			scratch = new([]byte)
		}
		raw := appendRecords((*scratch)[:0], msgs)
		*scratch = raw
		w := comp.Codec().NewWriter((*appender)(&b))
		if _, err := w.Write(raw); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	}
	ms := now.UnixMilli()
	h := b[4:batchHeaderLen]
	be := binary.BigEndian
	be.PutUint32(b[0:4], uint32(len(b)-4))   // record set size
	be.PutUint64(h[0:8], 0)                  // base offset
	be.PutUint32(h[8:12], uint32(len(b)-16)) // batch length: what follows this field
	be.PutUint32(h[12:16], 0xffffffff)       // partition leader epoch: -1 from a producer
	h[16] = 2                                // magic
	be.PutUint16(h[21:23], uint16(comp)&7)   // attributes: codec, create time, not transactional
	be.PutUint32(h[23:27], uint32(len(msgs)-1))
	be.PutUint64(h[27:35], uint64(ms)) // first timestamp
	be.PutUint64(h[35:43], uint64(ms)) // max timestamp
	be.PutUint64(h[43:51], ^uint64(0)) // producer id -1: not idempotent
	be.PutUint16(h[51:53], 0xffff)     // producer epoch -1
	be.PutUint32(h[53:57], 0xffffffff) // base sequence -1
	be.PutUint32(h[57:61], uint32(len(msgs)))
	be.PutUint32(h[17:21], crc32.Checksum(b[4+21:], castagnoli)) // from attributes to the end
	return b, nil
}

// appendRecords appends msgs as v2 records: every timestamp delta 0, offset
// deltas 0..n-1.
func appendRecords(b []byte, msgs []kafka.Message) []byte {
	for i, m := range msgs {
		n := 1 + 1 + varintLen(int64(i)) + bytesLen(m.Key) + bytesLen(m.Value) + varintLen(int64(len(m.Headers)))
		for _, h := range m.Headers {
			n += varintLen(int64(len(h.Key))) + len(h.Key) + bytesLen(h.Value)
		}
		b = binary.AppendVarint(b, int64(n))
		b = append(b, 0, 0) // attributes, timestamp delta 0
		b = binary.AppendVarint(b, int64(i))
		b = appendBytes(b, m.Key)
		b = appendBytes(b, m.Value)
		b = binary.AppendVarint(b, int64(len(m.Headers)))
		for _, h := range m.Headers {
			b = binary.AppendVarint(b, int64(len(h.Key)))
			b = append(b, h.Key...)
			b = appendBytes(b, h.Value)
		}
	}
	return b
}

// appendBytes appends a varint length and v; a nil v is null (length -1),
// as kafka-go writes a message without key.
func appendBytes(b, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(b, -1)
	}
	return append(binary.AppendVarint(b, int64(len(v))), v...)
}

func bytesLen(v []byte) int {
	if v == nil {
		return 1
	}
	return varintLen(int64(len(v))) + len(v)
}

func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63) // zig-zag
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// appender is an io.Writer appending to a byte slice.
type appender []byte

func (a *appender) Write(p []byte) (int, error) {
	*a = append(*a, p...)
	return len(p), nil
}

// bufPool recycles batch buffers.
type bufPool struct{ p sync.Pool }

func (bp *bufPool) get() []byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, 128<<10)
}

func (bp *bufPool) put(b []byte) { bp.p.Put(&b) }
