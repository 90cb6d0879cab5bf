package publish

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	metadataAPI "github.com/segmentio/kafka-go/protocol/metadata"
	produceAPI "github.com/segmentio/kafka-go/protocol/produce"
)

type countingRT struct {
	calls int
	res   kafka.Response
	err   error
}

func (c *countingRT) RoundTrip(context.Context, net.Addr, kafka.Request) (kafka.Response, error) {
	c.calls++
	return c.res, c.err
}

// One topic's metadata is asked of the transport once a second at most;
// other requests, other topics and answers with errors go through.
func TestTopicMetaCache(t *testing.T) {
	ctx := context.Background()
	addr := kafka.TCP("127.0.0.1:9092")
	ok := &metadataAPI.Response{Topics: []metadataAPI.ResponseTopic{{Name: "a", Partitions: make([]metadataAPI.ResponsePartition, 6)}}}
	rt := &countingRT{res: ok}
	c := newTopicMetaCache(rt)
	ask := func(topic string) kafka.Response {
		r, err := c.RoundTrip(ctx, addr, &metadataAPI.Request{TopicNames: []string{topic}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for range 1000 {
		if ask("a") != ok {
			t.Fatal("not the transport's answer")
		}
	}
	if rt.calls != 1 {
		t.Fatalf("%d transport calls for 1000 lookups of one topic, want 1", rt.calls)
	}
	ask("b") // the answer does not describe b: asked every time
	ask("b")
	if rt.calls != 3 {
		t.Fatalf("%d transport calls, want 3", rt.calls)
	}
	c.RoundTrip(ctx, addr, &produceAPI.Request{})
	c.RoundTrip(ctx, addr, &metadataAPI.Request{TopicNames: []string{"a", "b"}})
	if rt.calls != 5 {
		t.Fatalf("%d transport calls, want 5 (produce and a two-topic lookup pass through)", rt.calls)
	}
	c.ttl = time.Millisecond
	time.Sleep(2 * time.Millisecond)
	ask("a")
	if rt.calls != 6 {
		t.Fatalf("%d transport calls, want 6 (expired)", rt.calls)
	}
	rt.res = &metadataAPI.Response{Topics: []metadataAPI.ResponseTopic{{Name: "a", ErrorCode: 3}}}
	time.Sleep(2 * time.Millisecond)
	ask("a")
	ask("a")
	if rt.calls != 8 {
		t.Fatalf("%d transport calls, want 8 (an error answer is not kept)", rt.calls)
	}
}
