// Command devstack runs the embedded engines on 127.0.0.1: a kfake Kafka
// broker, the ClickHouse engine (libchdb) behind ClickHouse's HTTP interface
// and, with --roster, the Daou Office simulator; it writes DIR/stack.json and
// runs until SIGINT or SIGTERM.
//
//	devstack --dir var/devstack [--kafka-port 9092] [--clickhouse-port 8123] [--retention 168h] \
//	         [--roster roster.csv --daou-client-id ID] (secret: DAOUSIM_CLIENT_SECRET)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/attendance-pipeline/attnd/internal/daousim"
	"github.com/attendance-pipeline/attnd/internal/devstack"
	"github.com/attendance-pipeline/attnd/internal/match"
	"github.com/attendance-pipeline/attnd/internal/obs"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("devstack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "var/devstack", "where stack.json and the Kafka and ClickHouse data go")
	kport := fs.Int("kafka-port", 0, "Kafka port (0: a free one)")
	cport := fs.Int("clickhouse-port", 0, "ClickHouse HTTP port (0: a free one)")
	dport := fs.Int("daou-port", 0, "Daou simulator port (0: a free one)")
	retention := fs.Duration("retention", devstack.DefaultRetention, "how long Kafka keeps records (checked at start and hourly)")
	roster := fs.String("roster", "", "roster CSV for the Daou simulator's accounts (no simulator without it)")
	clientID := fs.String("daou-client-id", "devstack", "client id the simulator accepts (secret: env DAOUSIM_CLIENT_SECRET, default devstack-secret)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := obs.NewLogger(stderr, slog.LevelInfo, "devstack")
	cfg := devstack.Config{Dir: *dir, KafkaPort: *kport, ClickHousePort: *cport, DaouPort: *dport, Retention: *retention, Log: log}
	if *roster != "" {
		emps, err := match.RosterFile(*roster, nil).Employees(ctx)
		if err != nil {
			fmt.Fprintln(stderr, "devstack:", err)
			return 1
		}
		secret := os.Getenv("DAOUSIM_CLIENT_SECRET")
		if secret == "" {
			secret = "devstack-secret"
		}
		var accounts []daousim.Employee
		for _, e := range emps {
			accounts = append(accounts, daousim.Employee{EmployeeNumber: e.EmployeeNo, LoginID: e.LoginID, Name: e.Name, ExpiredDate: e.ExpiredDate})
		}
		sim := daousim.New(daousim.Options{ClientID: *clientID, ClientSecret: secret, Employees: accounts, SyncOnWrite: true, Log: log})
		defer sim.Close()
		cfg.Daou = sim
	}
	s, err := devstack.Start(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer s.Close()
	b, _ := json.Marshal(s)
	fmt.Fprintf(stdout, "%s\n", b)
	log.Info("devstack running; Kafka and ClickHouse data stay under --dir and survive a restart", "kafka", s.Kafka, "clickhouse_http", s.ClickHouseHTTP, "daou", s.Daou)
	<-ctx.Done()
	log.Info("devstack stopping")
	return 0
}
