package ingest

import (
	"strings"
	"testing"
)

func TestConfigErrorsNameTheKey(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	raw := `
state_dir: ""
memory_limit: 16MiB
kafka: {brokers: ["127.0.0.1:9092"], compression: brotli}
`
	_, err := ParseConfig([]byte(raw), noEnv)
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, key := range []string{"state_dir", "memory_limit", "kafka.compression"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error does not name %s:\n%v", key, err)
		}
	}
	ok := "state_dir: x\nkafka: {brokers: [\"127.0.0.1:9092\"]}\nsources: [{name: drops, type: dir, path: " + t.TempDir() + ", site: hq}]\n"
	cfg, err := ParseConfig([]byte(ok), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MemoryLimit != DefaultMemoryLimit || cfg.Kafka.Compression != "snappy" {
		t.Errorf("defaults: memory_limit %q, kafka.compression %q; want %q and snappy", cfg.MemoryLimit, cfg.Kafka.Compression, DefaultMemoryLimit)
	}
}
