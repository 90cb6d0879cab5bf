package publish

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	metadataAPI "github.com/segmentio/kafka-go/protocol/metadata"
)

// topicMetaCache sits between a kafka-go Writer and its Transport.
// WriteMessages asks the transport for the topic's metadata once per
// message to count its partitions; the transport answers from its own cache
// but through its connection pool, with a copy of the response each time,
// about a twentieth of the ingest's CPU. This keeps the single-topic answers
// for a second (the transport itself keeps metadata for MetadataTTL, 5 s)
// and passes everything else through.
type topicMetaCache struct {
	rt  kafka.RoundTripper
	ttl time.Duration

	mu      sync.Mutex
	answers map[metaKey]metaAnswer
}

type metaKey struct {
	addr, topic string
	autoCreate  bool
}

type metaAnswer struct {
	res *metadataAPI.Response
	at  time.Time
}

func newTopicMetaCache(rt kafka.RoundTripper) *topicMetaCache {
	return &topicMetaCache{rt: rt, ttl: time.Second, answers: map[metaKey]metaAnswer{}}
}

// RoundTrip implements kafka.RoundTripper.
func (c *topicMetaCache) RoundTrip(ctx context.Context, addr net.Addr, req kafka.Request) (kafka.Response, error) {
	m, ok := req.(*metadataAPI.Request)
	if !ok || len(m.TopicNames) != 1 || m.IncludeClusterAuthorizedOperations || m.IncludeTopicAuthorizedOperations {
		return c.rt.RoundTrip(ctx, addr, req)
	}
	k := metaKey{addr: addr.String(), topic: m.TopicNames[0], autoCreate: m.AllowAutoTopicCreation}
	now := time.Now()
	c.mu.Lock()
	a, hit := c.answers[k]
	c.mu.Unlock()
	if hit && now.Sub(a.at) < c.ttl {
		return a.res, nil
	}
	res, err := c.rt.RoundTrip(ctx, addr, req)
	if err != nil {
		return res, err
	}
	r, ok := res.(*metadataAPI.Response)
	if !ok || !answered(r, k.topic) {
		return res, nil // not cached: an error is asked again next time
	}
	c.mu.Lock()
	c.answers[k] = metaAnswer{res: r, at: now}
	c.mu.Unlock()
	return r, nil
}

// answered reports whether r describes topic without an error.
func answered(r *metadataAPI.Response, topic string) bool {
	for _, t := range r.Topics {
		if t.Name == topic {
			return t.ErrorCode == 0 && len(t.Partitions) > 0
		}
	}
	return false
}
