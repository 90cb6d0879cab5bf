package configdoc_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attendance-pipeline/attnd/internal/configdoc"
	"github.com/attendance-pipeline/attnd/internal/ingest"
	"github.com/attendance-pipeline/attnd/internal/pusher"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md")

const head = `# Configuration reference

Generated from the config structs by ` + "`go test ./internal/configdoc -update`" + `; the
test fails when this file and the code disagree. Secrets are never keys of
their own: a ` + "`*_env`" + ` key names the environment variable that holds
them. Environment overrides: ` + "`KAFKA_BROKERS`" + ` (both), ` + "`DAOU_BASE_URL`" + `,
` + "`DAOU_CLIENT_ID`" + `, ` + "`DAOU_CLIENT_SECRET`" + `, ` + "`CLICKHOUSE_PASSWORD`" + ` (pusher).
Durations are Go durations (` + "`30s`, `1h`" + `). ` + "`memory_limit`" + ` is the process's
memory budget, written as GOMEMLIMIT (` + "`256MiB`" + `; defaults: ingest 256MiB, pusher
384MiB; ` + "`off`" + ` keeps Go's defaults): the garbage collector runs when the heap
reaches it, and ` + "`GOGC`" + ` or ` + "`GOMEMLIMIT`" + ` in the environment take precedence
(` + "`internal/gcbudget`" + `). Annotated examples: ` + "`deploy/compose/config/`" + `.

`

func render() string {
	return head +
		configdoc.Markdown("ingest (`ingest run --config FILE`)", "Loaded by `ingest.LoadConfig`; unknown keys are errors.", ingest.Config{}) + "\n" +
		configdoc.Markdown("pusher (`pusher run --config FILE`)", "Loaded by `pusher.LoadConfig`; unknown keys are errors. `pusher push`, `migrate` and `report` read the sections they need from the same file.", pusher.Config{})
}

func TestReferenceIsCurrent(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "configuration.md")
	got := render()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Errorf("docs/configuration.md is stale: run go test ./internal/configdoc -update and review")
	}
}

func TestKeysSeeEverySection(t *testing.T) {
	keys := map[string]bool{}
	for _, k := range configdoc.Keys(pusher.Config{}) {
		keys[k[0]] = true
	}
	for _, k := range []string{"state_dir", "kafka.brokers", "kafka.sasl.password_env", "clickhouse.addr", "daou.base_url", "match.sites[].rules[].kind", "match.directory.providers[].path", "derive.day_start", "derive.sites.<name>.max_shift"} {
		if !keys[k] {
			t.Errorf("pusher key %s missing from the reference", k)
		}
	}
	var ingestKeys []string
	for _, k := range configdoc.Keys(ingest.Config{}) {
		ingestKeys = append(ingestKeys, k[0])
	}
	for _, k := range []string{"sources[].password_env", "sources[].after", "sites.<name>.codes.caps_event_modes"} {
		if !strings.Contains(" "+strings.Join(ingestKeys, " ")+" ", " "+k+" ") {
			t.Errorf("ingest key %s missing from the reference", k)
		}
	}
}
