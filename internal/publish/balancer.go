package publish

import "github.com/segmentio/kafka-go"

// KeyHash is kafka-go's Hash balancer (FNV-1a of the key, Sarama's hash
// partitioner: one key, one partition) without its pooled hash.Hash32 and
// deferred calls, which were about a fiftieth of the ingest's CPU in a
// backfill. Same partition for every key; messages without a key go round
// robin, as with kafka.Hash.
type KeyHash struct{ rr kafka.RoundRobin }

// Balance implements kafka.Balancer.
func (h *KeyHash) Balance(msg kafka.Message, partitions ...int) int {
	if msg.Key == nil {
		return h.rr.Balance(msg, partitions...)
	}
	sum := uint32(2166136261)
	for _, c := range msg.Key {
		sum ^= uint32(c)
		sum *= 16777619
	}
	// As kafka.Hash (and Sarama): the sum as an int32, modulo, made positive.
	p := int32(sum) % int32(len(partitions))
	if p < 0 {
		p = -p
	}
	return int(p)
}
