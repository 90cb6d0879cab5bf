package publish

import (
	"math/rand/v2"
	"testing"

	"github.com/segmentio/kafka-go"
)

// KeyHash sends every key where kafka.Hash does, for any partition count.
func TestKeyHashSameAsKafkaHash(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var ours KeyHash
	var theirs kafka.Hash
	for range 20000 {
		key := make([]byte, r.IntN(40))
		for i := range key {
			key[i] = byte(r.IntN(256))
		}
		n := 1 + r.IntN(64)
		parts := make([]int, n)
		for i := range parts {
			parts[i] = i
		}
		msg := kafka.Message{Key: key}
		if got, want := ours.Balance(msg, parts...), theirs.Balance(msg, parts...); got != want {
			t.Fatalf("key % x over %d partitions: partition %d, kafka.Hash %d", key, n, got, want)
		}
	}
	// No key: round robin over the partitions, as kafka.Hash.
	seen := map[int]bool{}
	for range 4 {
		seen[ours.Balance(kafka.Message{}, 0, 1, 2, 3)] = true
	}
	if len(seen) != 4 {
		t.Errorf("keyless messages went to %v, want all four partitions in turn", seen)
	}
}
