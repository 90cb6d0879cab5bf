package demo

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/attendance-pipeline/attnd/internal/daousim"
	"github.com/attendance-pipeline/attnd/internal/devstack"
	"github.com/attendance-pipeline/attnd/internal/ingest"
	"github.com/attendance-pipeline/attnd/internal/obs"
	"github.com/attendance-pipeline/attnd/internal/pusher"
	"github.com/attendance-pipeline/attnd/internal/sample"
)

// BenchmarkDropToDaou measures the latency from a file landing in a watched
// folder (renamed in, as vendor programs and FTP servers finish files) to its
// working day accepted by the Daou simulator, through the ingest daemon
// (fsnotify), Kafka (kfake), the pusher (matching, history in the embedded
// ClickHouse, derivation, push). Each file holds one clock-in of another
// person. Reports p50 and p99 in ms, and the process's peak heap.
//
//	go test -run '^$' -bench DropToDaou -benchtime 40x ./internal/demo
func BenchmarkDropToDaou(b *testing.B) {
	dir := b.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	loc, _ := time.LoadLocation("Asia/Seoul")
	gen := filepath.Join(dir, "sample")
	if _, err := sample.Generate(sample.Config{Dir: gen, From: time.Date(2026, 3, 2, 0, 0, 0, 0, loc), To: time.Date(2026, 3, 2, 0, 0, 0, 0, loc), People: 300, Location: loc}); err != nil {
		b.Fatal(err)
	}
	accounts, err := simAccounts(ctx, filepath.Join(gen, "roster.csv"))
	if err != nil {
		b.Fatal(err)
	}
	sim := daousim.New(daousim.Options{ClientID: clientID, ClientSecret: clientSecret, Employees: accounts, SyncOnWrite: true, Location: loc})
	defer sim.Close()
	stack, err := devstack.Start(ctx, devstack.Config{Dir: filepath.Join(dir, "devstack"), Daou: sim})
	if err != nil {
		b.Fatal(err)
	}
	defer stack.Close()
	b.Setenv("ATTND_CARD_KEY", cardKey)
	b.Setenv("DAOU_DEMO_SECRET", clientSecret)

	watched := filepath.Join(dir, "watched")
	os.MkdirAll(watched, 0o755)
	icfg, err := ingest.ParseConfig([]byte(fmt.Sprintf(`
state_dir: %s
http: {listen: "off"}
kafka: {brokers: [%q], partitions: 6}
sites: {lab: {card_key_env: ATTND_CARD_KEY}}
sources:
  - {name: lab, type: dir, path: %q, site: lab, min_age: 1ms, poll_interval: 5s}
`, filepath.Join(dir, "ingest"), stack.Kafka, watched)), nil)
	if err != nil {
		b.Fatal(err)
	}
	im := obs.NewIngestMetrics(prometheus.NewRegistry())
	in, err := ingest.New(ctx, icfg, ingest.Factories(im), obs.Discard(), im)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	if err := in.Start(ctx); err != nil {
		b.Fatal(err)
	}
	go in.Run(ctx)

	u, _ := url.Parse(stack.ClickHouseHTTP)
	pcfg, err := pusher.ParseConfig([]byte(fmt.Sprintf(pusherYAML, filepath.Join(dir, "pusher"), stack.Kafka, u.Host, database, stack.Daou, clientID, filepath.Join(gen, "roster.csv"))), nil)
	if err != nil {
		b.Fatal(err)
	}
	pcfg.BatchInterval = 20 * time.Millisecond
	d, err := pusher.Start(ctx, pcfg, nil, obs.Discard(), prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()

	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		emp := fmt.Sprintf("%06d", 120000+i%300) // lab's vendor numbers lost their zeros
		day := time.Date(2026, 4, 1, 0, 0, 0, 0, loc).AddDate(0, 0, i/300)
		at := day.Add(8*time.Hour + time.Duration(i%60)*time.Second)
		body := fmt.Sprintf("인증일시,요일,사원번호,이름,인증모드\n%s,수,%s,직원,출근\n", at.Format("2006-01-02 15:04:05"), emp)
		tmp := filepath.Join(dir, fmt.Sprintf("drop-%d.tmp", i))
		if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
		key := daousim.Key{EmployeeNumber: "00" + emp, WorkingDay: day.Format("2006-01-02")}
		start := time.Now()
		if err := os.Rename(tmp, filepath.Join(watched, fmt.Sprintf("report_%d.csv", i))); err != nil {
			b.Fatal(err)
		}
		for {
			if r, ok := sim.Records()[key]; ok && r.ClockIn != "" {
				break
			}
			if time.Since(start) > time.Minute {
				b.Fatalf("drop %d not in Daou after a minute", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heap-sys-MiB")
}
