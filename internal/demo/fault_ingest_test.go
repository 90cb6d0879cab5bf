package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/segmentio/kafka-go"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/daousim"
	"github.com/attendance-pipeline/attnd/internal/devstack"
	"github.com/attendance-pipeline/attnd/internal/ledger"
	"github.com/attendance-pipeline/attnd/internal/parsers"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
	"github.com/attendance-pipeline/attnd/internal/publish"
	"github.com/attendance-pipeline/attnd/internal/publish/kafkatest"
	"github.com/attendance-pipeline/attnd/internal/sample"
)

// TestIngestKill9 runs `ingest run` as a separate process over three watched
// folders (one per vendor) into a real Apache Kafka broker, and kills it with
// SIGKILL at random points many times, dropping more files in between kills;
// some of the runs are `ingest run --once`. Each restart uses the same state
// dir. Files are thousands of rows and published in small chunks, so kills
// land mid-file and mid-publish (the test checks that they did). At the end
// a daemon finishes the work. Then, read back from Kafka: the distinct
// event_ids on the punches topic are exactly the events the files contain
// (parsed here from the files, and as many as the generator's ground truth),
// duplicates allowed but no event missing and none foreign; every bad row is
// on the rejects topic; every file is done in the ledger with its content's
// SHA-256 and was moved out of its drop folder exactly once.
func TestIngestKill9(t *testing.T) {
	broker := kafkatest.StartReal(t)
	root := kafkatest.RepoRoot(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	t.Setenv("ATTND_CARD_KEY", cardKey)

	loc := parsekit.Seoul()
	from := time.Date(2026, 3, 2, 0, 0, 0, 0, loc)
	gen := filepath.Join(dir, "sample")
	truth, err := sample.Generate(sample.Config{Dir: gen, From: from, To: from.AddDate(0, 0, 7), People: 2400, Unmatched: 3,
		Seed: 29, Location: loc, BadRows: true})
	if err != nil {
		t.Fatal(err)
	}
	watched := filepath.Join(dir, "drops")
	done := filepath.Join(dir, "done")
	want := newIngestExpect()
	var drops []ingestDrop
	for _, rel := range truth.Files {
		site := filepath.Base(filepath.Dir(rel))
		d := ingestDrop{from: filepath.Join(gen, rel), to: filepath.Join(watched, site, filepath.Base(rel)), site: site}
		want.add(t, d.from, d.to, site)
		drops = append(drops, d)
	}
	if len(want.events) != truth.Punches || len(want.rejects) != truth.Rejects {
		t.Fatalf("parsing the files gives %d events and %d rejects; the generator made %d punches and %d bad rows",
			len(want.events), len(want.rejects), truth.Punches, truth.Rejects)
	}
	if len(drops) < 40 || want.rows < 30000 || truth.Rejects == 0 {
		t.Fatalf("the drop is too small for a crash test: %d files, %d rows, %d bad rows", len(drops), want.rows, truth.Rejects)
	}
	t.Logf("%d files, %d distinct punches, %d bad rows", len(drops), len(want.events), len(want.rejects))
	// Random order, so that every batch has files of every site, big and small.
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 9))
	t.Logf("drop order and kill schedule seed %d", seed)
	rng.Shuffle(len(drops), func(i, j int) { drops[i], drops[j] = drops[j], drops[i] })

	bins := buildCommands(t, ctx, root, dir, "ingest")
	state := filepath.Join(dir, "ingest-state")
	var srcs strings.Builder
	for _, s := range sample.Sites {
		if err := os.MkdirAll(filepath.Join(watched, s.Name), 0o755); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&srcs, "  - {name: %s, type: dir, path: %q, site: %s, after: %q, min_age: 1ms, poll_interval: 200ms}\n",
			s.Name, filepath.Join(watched, s.Name), s.Name, "move:"+filepath.Join(done, s.Name))
	}
	// Tiny chunks: a hundred and more acknowledged writes per file (each a
	// round trip to the broker per partition), so files take a while and
	// kills land between the writes.
	cfg := filepath.Join(dir, "ingest.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`state_dir: %s
http: {listen: "off"}
retry: 500ms
kafka: {brokers: [%q], partitions: 6, chunk_size: 6}
sites:
  hq: {card_key_env: ATTND_CARD_KEY}
  factory: {card_key_env: ATTND_CARD_KEY}
  lab: {card_key_env: ATTND_CARD_KEY}
sources:
%s`, state, broker.Addr, srcs.String())), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := processLog(t, dir, "ingest")

	const iterations = 15
	next := 0
	dropSome := func(n int) {
		for ; n > 0 && next < len(drops); n-- {
			d := drops[next]
			next++
			if err := os.Rename(d.from, d.to); err != nil { // as vendor programs and FTP servers finish files
				t.Fatal(err)
			}
		}
	}
	perRun := (len(drops) + iterations - 1) / iterations
	dropSome(2 * perRun) // a backlog from the start
	midFile, onceRuns := 0, 0
	for i := range iterations {
		args := []string{"run", "--config", cfg}
		once := i%4 == 2
		if once {
			args = append(args, "--once", "--settle", "200ms")
			onceRuns++
		}
		p := startProcess(t, ctx, bins["ingest"], logs, args...)
		// Files keep arriving while it runs.
		delay := time.Duration(300+rng.IntN(1500)) * time.Millisecond
		time.Sleep(delay / 2)
		dropSome(perRun)
		time.Sleep(delay - delay/2)
		if p.exited() {
			if !once || p.err != nil {
				t.Fatalf("run %d (%v) ended on its own before the kill: %v", i, args, p.err)
			}
			t.Logf("run %d: --once finished by itself within %v", i, delay)
		} else {
			p.kill()
		}
		how := "killed"
		if p.err == nil {
			how = "finished"
		}
		c, pending := ledgerState(t, ctx, state)
		if c[attendance.FileFailed] > 0 || c[attendance.FileQuarantined] > 0 {
			t.Fatalf("run %d: ledger %v: no file may fail or be quarantined with the broker up", i, c)
		}
		if len(pending) > 0 {
			midFile++
		}
		t.Logf("run %d (once=%v) %s after %v: ledger %v, left mid-file: %v", i, once, how, delay, c, pending)
	}
	dropSome(len(drops))
	if midFile < iterations/3 {
		t.Errorf("only %d of %d kills left a file pending in the ledger: make the drop bigger or the chunks smaller (or the ledger lies)", midFile, iterations)
	}

	// The last run finishes: every file moved out of the drop folders.
	final := startProcess(t, ctx, bins["ingest"], logs, "run", "--config", cfg)
	deadline := time.Now().Add(3 * time.Minute)
	for left := -1; left != 0; {
		left = 0
		for _, s := range sample.Sites {
			ents, _ := os.ReadDir(filepath.Join(watched, s.Name))
			left += len(ents)
		}
		if final.exited() {
			t.Fatalf("the final daemon exited: %v", final.err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d files still in the drop folders 3 minutes after the last restart", left)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := final.stop(); err != nil {
		t.Fatalf("the final daemon did not stop cleanly on SIGTERM: %v", err)
	}

	// Kafka: every event and every bad row, nothing foreign.
	punches, err := kafkatest.ReadTopic(ctx, broker.Addr, publish.DefaultPunchesTopic)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, m := range punches {
		id := kafkatest.EventID(m)
		got[id]++
		if w, ok := want.events[id]; ok && got[id] == 1 {
			if d := punchDiff(m, w); d != "" {
				t.Errorf("event %s on Kafka differs from the file's row: %s", id, d)
			}
		}
	}
	if d := idDiff(got, want.events); d != "" {
		t.Errorf("punches topic after the kills: %s", d)
	}
	rejects, err := kafkatest.ReadTopic(ctx, broker.Addr, publish.DefaultRejectsTopic)
	if err != nil {
		t.Fatal(err)
	}
	gotRej := map[string]int{}
	for _, m := range rejects {
		gotRej[kafkatest.Header(m, "reject_id")]++
	}
	if d := idDiff(gotRej, want.rejects); d != "" {
		t.Errorf("rejects topic after the kills: %s", d)
	}
	resent := len(punches) - len(got)
	t.Logf("%d punch messages for %d distinct event ids (%d re-published after kills); %d reject messages for %d bad rows; %d of %d runs killed mid-file, %d --once runs",
		len(punches), len(got), resent, len(rejects), len(gotRej), midFile, iterations, onceRuns)
	if resent == 0 {
		t.Errorf("no event was published twice: no kill landed between two acknowledged chunks of a file, the test proved nothing")
	}

	// The ledger: every file done with its content, once; the after-action once.
	led, err := ledger.Open(ctx, state)
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	all, err := led.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(drops) {
		t.Errorf("the ledger has %d entries for %d files", len(all), len(drops))
	}
	bad := 0
	for _, e := range all {
		if e.State != attendance.FileDone || want.sha[e.Path] != e.SHA256 || e.Punches+e.Rejects != want.rowsOf[e.Path] {
			if bad++; bad > 5 {
				continue
			}
			t.Errorf("ledger entry %s: %s, sha256 %s, %d punches + %d rejects; want done, %s, %d rows",
				e.Path, e.State, e.SHA256, e.Punches, e.Rejects, want.sha[e.Path], want.rowsOf[e.Path])
		}
	}
	if bad > 5 {
		t.Errorf("... and %d more wrong ledger entries", bad-5)
	}
	for _, d := range drops {
		moved := filepath.Join(done, d.site, filepath.Base(d.to))
		if _, err := os.Stat(moved); err != nil {
			t.Errorf("%s was not moved to the done folder: %v", d.to, err)
		}
	}
	for _, s := range sample.Sites {
		if ents, _ := os.ReadDir(filepath.Join(done, s.Name)); len(ents) != len(want.perSite[s.Name]) {
			t.Errorf("%d files in %s's done folder, want %d (a file moved twice gets a second name)", len(ents), s.Name, len(want.perSite[s.Name]))
		}
	}
}

// TestRealBrokerDownAMinute runs the whole pipeline over a real Apache Kafka
// broker: the ingest daemon and the pusher as separate processes, the
// embedded ClickHouse and the Daou simulator. Files are dropped, and while
// their data flows the broker process is stopped (by PID, scripts/kafka.sh)
// for a minute, during which more files are dropped; then it is started again
// with the same data dir and port. Both processes must ride the outage out,
// the broker must come back with what it had, and everything converges: the
// history holds exactly the generated punches and bad rows (FINAL), every
// expected working day is in Daou's middle database with the right times,
// the simulator counted zero identical resends, and every file is done in the
// ingest's ledger.
func TestRealBrokerDownAMinute(t *testing.T) {
	broker := kafkatest.StartReal(t)
	root := kafkatest.RepoRoot(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	loc, _ := time.LoadLocation("Asia/Seoul")
	gen := filepath.Join(dir, "sample")
	from := time.Date(2026, 3, 2, 0, 0, 0, 0, loc)
	truth, err := sample.Generate(sample.Config{Dir: gen, From: from, To: from.AddDate(0, 0, 3),
		People: 90, Unmatched: 2, Seed: 17, Location: loc, BadRows: true})
	if err != nil {
		t.Fatal(err)
	}
	accounts, err := simAccounts(ctx, filepath.Join(gen, "roster.csv"))
	if err != nil {
		t.Fatal(err)
	}
	sim := daousim.New(daousim.Options{ClientID: clientID, ClientSecret: clientSecret, Employees: accounts, BlockAfter: 3, SyncOnWrite: true, Location: loc})
	defer sim.Close()
	stack, err := devstack.Start(ctx, devstack.Config{Dir: filepath.Join(dir, "devstack"), Daou: sim}) // its ClickHouse and Daou; Kafka is the real broker
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	t.Setenv("ATTND_CARD_KEY", cardKey)
	t.Setenv("DAOU_DEMO_SECRET", clientSecret)

	// Files arrive one by one in the order of their day, as the vendor
	// programs write them: the first ones before the outage, the rest during it.
	watched := filepath.Join(dir, "drops")
	var drops []ingestDrop
	for _, rel := range truth.Files {
		site := filepath.Base(filepath.Dir(rel))
		drops = append(drops, ingestDrop{from: filepath.Join(gen, rel), to: filepath.Join(watched, site, filepath.Base(rel)), site: site})
	}
	day := regexp.MustCompile(`20[0-9]{6}`)
	slices.SortStableFunc(drops, func(a, b ingestDrop) int {
		return strings.Compare(day.FindString(filepath.Base(a.to))+filepath.Base(a.to), day.FindString(filepath.Base(b.to))+filepath.Base(b.to))
	})
	if len(drops) < 20 {
		t.Fatalf("only %d files: too few to drop some before and some during the outage", len(drops))
	}
	var srcs strings.Builder
	for _, s := range sample.Sites {
		if err := os.MkdirAll(filepath.Join(watched, s.Name), 0o755); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&srcs, "  - {name: %s, type: dir, path: %q, site: %s, min_age: 1ms, poll_interval: 500ms}\n", s.Name, filepath.Join(watched, s.Name), s.Name)
	}
	icfg := filepath.Join(dir, "ingest.yaml")
	istate := filepath.Join(dir, "ingest-state")
	if err := os.WriteFile(icfg, []byte(fmt.Sprintf(`state_dir: %s
http: {listen: "off"}
retry: 2s
kafka: {brokers: [%q], partitions: 6, chunk_size: 200}
sites:
  hq: {card_key_env: ATTND_CARD_KEY}
  factory: {card_key_env: ATTND_CARD_KEY}
  lab: {card_key_env: ATTND_CARD_KEY}
sources:
%s`, istate, broker.Addr, srcs.String())), 0o644); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(stack.ClickHouseHTTP)
	pcfg := filepath.Join(dir, "pusher.yaml")
	cfg := fmt.Sprintf(pusherYAML, filepath.Join(dir, "pusher-state"), broker.Addr, u.Host, database, stack.Daou, clientID, filepath.Join(gen, "roster.csv"))
	cfg = strings.Replace(cfg, "batch_interval: 200ms", "batch_interval: 100ms\nlog: {level: debug}", 1)
	cfg = strings.Replace(cfg, "  partitions: 6\n", "  partitions: 6\n  stall_timeout: 20s\n", 1)
	if err := os.WriteFile(pcfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	bins := buildCommands(t, ctx, root, dir, "ingest", "pusher")
	ilogs := processLog(t, dir, "ingest")
	plogs := processLog(t, dir, "pusher")
	in := startProcess(t, ctx, bins["ingest"], ilogs, "run", "--config", icfg)
	push := startProcess(t, ctx, bins["pusher"], plogs, "run", "--config", pcfg)
	drop := func(d ingestDrop) {
		if err := os.Rename(d.from, d.to); err != nil { // renamed in whole, as vendor programs and FTP servers finish files
			t.Fatal(err)
		}
	}

	// Data flows: files keep arriving until the first days reach Daou.
	next := 0
	for end := time.Now().Add(2 * time.Minute); len(sim.Records()) == 0; time.Sleep(250 * time.Millisecond) {
		if time.Now().After(end) || in.exited() || push.exited() {
			t.Fatalf("no day reached Daou within 2 minutes of the first drops (ingest exited %v, pusher exited %v)", in.exited(), push.exited())
		}
		if next < len(drops)-len(drops)/3 {
			drop(drops[next])
			next++
		}
	}
	onKafka, err := topicEnd(ctx, broker.Addr, publish.DefaultPunchesTopic)
	if err != nil {
		t.Fatal(err)
	}
	pid := broker.PID()
	if err := broker.Stop(); err != nil {
		t.Fatal(err)
	}
	if pid == 0 || alive(pid) {
		t.Fatalf("the broker (pid %d) still runs after kafka.sh stop", pid)
	}
	down := time.Now()
	t.Logf("broker (pid %d) stopped with %d files dropped, %d punch messages on Kafka and %d of %d days in Daou", pid, next, onKafka, len(sim.Records()), len(truth.Days))

	// A minute without the broker; the rest of the files arrive during it.
	during := drops[next:]
	for i, d := range during {
		time.Sleep(time.Until(down.Add(time.Duration(1000+45000*i/len(during)) * time.Millisecond)))
		drop(d)
	}
	time.Sleep(time.Until(down.Add(time.Minute)))
	if in.exited() {
		t.Errorf("the ingest exited during the broker outage instead of riding it out: %v", in.err)
	}
	if push.exited() {
		t.Errorf("the pusher exited during the broker outage instead of riding it out: %v", push.err)
	}
	daysDuring := len(sim.Records())
	if err := broker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Logf("broker started again on %s (pid %d) after %v; %d days in Daou", broker.Addr, broker.PID(), time.Since(down).Round(time.Second), daysDuring)
	var back int64
	for end := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
		if back, err = topicEnd(ctx, broker.Addr, publish.DefaultPunchesTopic); err == nil || time.Now().After(end) {
			break
		}
	}
	if err != nil || back < onKafka {
		t.Fatalf("after the restart the punches topic ends at %d (error %v), it held %d before: the broker lost its data", back, err, onKafka)
	}

	// Everything converges.
	checkDaouDays(t, sim, truth.Days, loc, "after the broker outage")
	conn, err := clickhouse.Open(&clickhouse.Options{Protocol: clickhouse.HTTP, Addr: []string{u.Host}, Auth: clickhouse.Auth{Database: database}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var np, nr uint64
	for end := time.Now().Add(time.Minute); ; time.Sleep(300 * time.Millisecond) {
		if np, err = count(ctx, conn, "SELECT count() FROM "+database+".punches FINAL"); err != nil {
			t.Fatal(err)
		}
		if nr, err = count(ctx, conn, "SELECT count() FROM "+database+".rejects FINAL"); err != nil {
			t.Fatal(err)
		}
		if (int(np) == truth.Punches && int(nr) == truth.Rejects) || time.Now().After(end) {
			break
		}
	}
	if int(np) != truth.Punches || int(nr) != truth.Rejects {
		t.Errorf("punches FINAL = %d, rejects FINAL = %d; generated %d punches and %d bad rows", np, nr, truth.Punches, truth.Rejects)
	}

	if err := in.stop(); err != nil {
		t.Errorf("the ingest did not stop cleanly on SIGTERM: %v", err)
	}
	if err := push.stop(); err != nil {
		t.Errorf("the pusher did not stop cleanly on SIGTERM: %v", err)
	}
	c, _ := ledgerState(t, ctx, istate)
	if total := c[attendance.FileDone] + c[attendance.FilePending] + c[attendance.FileFailed] + c[attendance.FileQuarantined]; c[attendance.FileDone] != len(truth.Files) || total != len(truth.Files) {
		t.Errorf("the ingest's ledger says %v, want all %d files done", c, len(truth.Files))
	}
}

// ingestDrop is a generated file and where it is dropped.
type ingestDrop struct{ from, to, site string }

// ingestExpect is what the ingest must put on Kafka for a set of files,
// computed by parsing them here with the site options the ingest uses.
type ingestExpect struct {
	events  map[string]attendance.Punch  // event_id -> punch
	rejects map[string]attendance.Reject // reject_id -> reject
	sha     map[string]string            // dropped path -> sha256
	rowsOf  map[string]int               // dropped path -> punch and reject rows
	perSite map[string][]string
	rows    int
	cur     string
}

func newIngestExpect() *ingestExpect {
	return &ingestExpect{events: map[string]attendance.Punch{}, rejects: map[string]attendance.Reject{},
		sha: map[string]string{}, rowsOf: map[string]int{}, perSite: map[string][]string{}}
}

// add parses the file at path as the ingest will see it at dropped.
func (e *ingestExpect) add(t testing.TB, path, dropped, site string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	e.sha[dropped] = hex.EncodeToString(sum[:])
	e.perSite[site] = append(e.perSite[site], dropped)
	e.cur = dropped
	if _, err := parsers.Parse(context.Background(), bytes.NewReader(raw), parsers.Request{Name: filepath.Base(dropped),
		Options: parsekit.Options{Site: site, File: dropped, Location: parsekit.Seoul(), Codes: parsekit.DefaultCodes(), CardKey: []byte(cardKey)}}, e); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
}

func (e *ingestExpect) Punch(p attendance.Punch) error {
	e.events[p.EventID] = p
	e.rowsOf[e.cur]++
	e.rows++
	return nil
}

func (e *ingestExpect) Reject(r attendance.Reject) error {
	e.rejects[r.RejectID] = r
	e.rowsOf[e.cur]++
	e.rows++
	return nil
}

// punchDiff compares a punches-topic message with the punch parsed from the
// file ("" = the same event; where it was read may differ for a punch that
// two rows carry).
func punchDiff(m kafka.Message, want attendance.Punch) string {
	var got attendance.Punch
	if err := json.Unmarshal(m.Value, &got); err != nil {
		return err.Error()
	}
	if !got.OccurredAt.Equal(want.OccurredAt) {
		return fmt.Sprintf("occurred_at %v, want %v", got.OccurredAt, want.OccurredAt)
	}
	got.OccurredAt, want.OccurredAt = time.Time{}, time.Time{}
	got.SourceLine, want.SourceLine = 0, 0
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("%+v, want %+v", got, want)
	}
	if k := string(m.Key); k != want.PartitionKey() {
		return fmt.Sprintf("key %q, want %q", k, want.PartitionKey())
	}
	return ""
}

// idDiff describes how the distinct ids on a topic differ from want ("" = the same set).
func idDiff[V any](got map[string]int, want map[string]V) string {
	var missing, foreign []string
	for id := range want {
		if got[id] == 0 {
			missing = append(missing, id)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			foreign = append(foreign, id)
		}
	}
	if len(missing) == 0 && len(foreign) == 0 {
		return ""
	}
	slices.Sort(missing)
	slices.Sort(foreign)
	return fmt.Sprintf("%d of %d ids missing (e.g. %v), %d foreign ids (e.g. %v)",
		len(missing), len(want), missing[:min(3, len(missing))], len(foreign), foreign[:min(3, len(foreign))])
}

// ledgerState opens the ledger of a stopped ingest: counts by state and the
// files left pending (a run died mid-file).
func ledgerState(t testing.TB, ctx context.Context, state string) (map[string]int, []string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(state, ledger.FileName)); err != nil {
		return map[string]int{}, nil
	}
	led, err := ledger.Open(ctx, state)
	if err != nil {
		t.Fatalf("ledger of the stopped ingest: %v", err)
	}
	defer led.Close()
	c, err := led.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pend, err := led.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range pend {
		names = append(names, filepath.Base(e.Path))
	}
	return c, names
}

// topicEnd sums the high watermarks of a topic's partitions.
func topicEnd(ctx context.Context, addr, topic string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, err
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil {
		return 0, fmt.Errorf("metadata %s: %+v", topic, md.Topics)
	}
	var reqs []kafka.OffsetRequest
	for _, p := range md.Topics[0].Partitions {
		reqs = append(reqs, kafka.LastOffsetOf(p.ID))
	}
	lo, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return 0, err
	}
	var n int64
	for _, po := range lo.Topics[topic] {
		if po.Error != nil {
			return 0, po.Error
		}
		n += po.LastOffset
	}
	return n, nil
}

// buildCommands builds ./cmd/<name> for each name into dir.
func buildCommands(t testing.TB, ctx context.Context, root, dir string, names ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	args := []string{"build", "-o", filepath.Join(dir, "bin") + string(filepath.Separator)}
	for _, n := range names {
		args = append(args, "./cmd/"+n)
		out[n] = filepath.Join(dir, "bin", n)
	}
	build := exec.CommandContext(ctx, "go", args...)
	build.Dir = root
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, b)
	}
	return out
}

// processLog is a log file for a child process, its tail shown (and the
// whole file kept) if the test fails.
func processLog(t testing.TB, dir, name string) io.Writer {
	t.Helper()
	path := filepath.Join(dir, name+".log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		if !t.Failed() {
			return
		}
		b, _ := os.ReadFile(path)
		keep := filepath.Join(os.TempDir(), "attnd-"+strings.ReplaceAll(t.Name(), "/", "_")+"-"+name+".log")
		os.WriteFile(keep, b, 0o644)
		if len(b) > 30000 {
			b = b[len(b)-30000:]
		}
		t.Logf("%s log (tail; whole log kept in %s):\n%s", name, keep, b)
	})
	return f
}

// process is a child process of the test; t.Cleanup kills it by PID if it
// still runs.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // Wait's, once done is closed
}

func startProcess(t testing.TB, ctx context.Context, bin string, logs io.Writer, args ...string) *process {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	})
	return p
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL to the process's PID and waits for it to be gone.
func (p *process) kill() {
	syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits up to 30 s for a clean exit (status 0).
func (p *process) stop() error {
	if p.exited() {
		return fmt.Errorf("had already exited: %v", p.err)
	}
	syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(30 * time.Second):
		p.kill()
		return errors.New("still running 30 s after SIGTERM (killed)")
	}
}
