package consume

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// BenchmarkReader reads 200,000 punch-sized messages (snappy, six partitions)
// from kfake as a fresh group each iteration, and reports the process's CPU
// time per message (broker included) beside the wall time.
func BenchmarkReader(b *testing.B) {
	n := 200_000
	if v, err := strconv.Atoi(os.Getenv("ATTND_BENCH_READER_MSGS")); err == nil && v > 0 {
		n = v
	}
	c, addrs := benchCluster(b, n)
	defer c.Close()
	var cpu time.Duration
	for i := range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		before := cpuTime()
		r := Start(ctx, Config{Brokers: addrs, GroupID: fmt.Sprintf("bench-%d", i), Topics: []string{topic},
			MaxWait: 500 * time.Millisecond, MinBytes: 1 << 20, Buffer: 4096, StallTimeout: -1, Log: testLog()})
		// Read as the history writer does: one select per wake, then what
		// is buffered without one.
		for got := 0; got < n; {
			select {
			case <-r.Messages():
				got++
			case err := <-r.Errors():
				b.Fatalf("after %d messages: %v", got, err)
			}
		more:
			for got < n {
				select {
				case <-r.Messages():
					got++
				default:
					break more
				}
			}
		}
		cpu += cpuTime() - before
		r.Close()
		cancel()
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/msg")
}

// benchCluster is kfake with n punch-sized messages on six partitions of
// topic, written as the ingest writes them (snappy, the default, 1,000-message batches).
func benchCluster(b *testing.B, n int) (*kfake.Cluster, []string) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, topic))
	if err != nil {
		b.Fatal(err)
	}
	addrs := c.ListenAddrs()
	w := &kafka.Writer{Addr: kafka.TCP(addrs...), Topic: topic, Balancer: &kafka.Hash{}, BatchTimeout: time.Millisecond,
		BatchSize: 1000, Compression: kafka.Snappy, RequiredAcks: kafka.RequireAll}
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: fmt.Appendf(nil, "site/%07d", i%8000),
			Value: fmt.Appendf(nil, `{"event_id":"%032x","vendor":"secom","layout":"secom-alarm-csv","site":"factory","occurred_at":"2025-03-04T08:%02d:%02d+09:00","employee_no":"%07d","name":"김민수","card_masked":"****%04d","mode":"in","raw_mode":"1","device":"정문","auth_ok":true,"source_file":"drops/factory/T_SECOM_ALARM_20250304.csv","source_line":%d}`,
				i*7919, i%60, i%59, i%8000, i%10000, i+2)}
	}
	for i := 0; i < n; i += 5000 {
		if err := w.WriteMessages(context.Background(), msgs[i:min(i+5000, n)]...); err != nil {
			b.Fatal(err)
		}
	}
	w.Close()
	return c, addrs
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
