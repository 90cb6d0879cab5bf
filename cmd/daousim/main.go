// Command daousim serves the Daou Office OpenAPI simulator (internal/daousim)
// for the devstack and manual tests:
//
//	daousim --addr 127.0.0.1:0 --roster roster.csv --client-id X --client-secret Y
//
// It prints its base URL on the first stdout line and serves until SIGINT or
// SIGTERM. The client secret may also come from DAOUSIM_CLIENT_SECRET, and it
// is never printed.
package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/attendance-pipeline/attnd/internal/daousim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("daousim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	roster := fs.String("roster", "", "roster CSV (employee_no,login_id,name,card_numbers,aliases)")
	id := fs.String("client-id", "", "accepted client id")
	secret := fs.String("client-secret", "", "accepted client secret (or env DAOUSIM_CLIENT_SECRET)")
	ttl := fs.Duration("token-ttl", 86400*time.Second, "expires_in of issued tokens")
	expStr := fs.Bool("expires-in-string", false, "send expires_in as a string")
	blockAfter := fs.Int("block-after", 3, "identical sends of one record before 903 (0 = never)")
	rate := fs.Float64("rate", 0, "call limit per second before 905 (0 = unlimited)")
	syncEvery := fs.Duration("sync-every", 6*time.Hour, "middle DB -> visible sync period (0 = manual only)")
	syncOnWrite := fs.Bool("sync-on-write", false, "make every accepted record visible at once")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *secret == "" {
		*secret = os.Getenv("DAOUSIM_CLIENT_SECRET")
	}
	if *id == "" || *secret == "" || *roster == "" {
		fmt.Fprintln(stderr, "daousim: --roster, --client-id and --client-secret are required")
		return 2
	}
	emps, err := readRoster(*roster)
	if err != nil {
		fmt.Fprintln(stderr, "daousim:", err)
		return 1
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil)).With("component", "daousim")
	sim := daousim.New(daousim.Options{
		ClientID: *id, ClientSecret: *secret, Employees: emps, TokenTTL: *ttl, ExpiresInAsString: *expStr,
		BlockAfter: *blockAfter, RatePerSecond: *rate, Burst: max(1, int(*rate)), SyncEvery: *syncEvery,
		SyncOnWrite: *syncOnWrite, Log: log,
	})
	defer sim.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, "daousim: listen:", err)
		return 1
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "http://%s\n", ln.Addr())
	log.Info("daousim: serving", "addr", ln.Addr().String(), "employees", len(emps))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return 0
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return 0
		}
		fmt.Fprintln(stderr, "daousim: serve:", err)
		return 1
	}
}

// readRoster reads employee_no, login_id and name from the roster CSV; card
// numbers and aliases are not the groupware's business and are ignored.
func readRoster(path string) ([]daousim.Employee, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("roster: %w", err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("roster %s: %w", path, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("roster %s: empty", path)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	for _, c := range []string{"employee_no", "login_id", "name"} {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("roster %s: header lacks %s", path, c)
		}
	}
	get := func(r []string, c string) string {
		if i := col[c]; i < len(r) {
			return strings.TrimSpace(r[i])
		}
		return ""
	}
	var out []daousim.Employee
	for n, r := range rows[1:] {
		e := daousim.Employee{EmployeeNumber: get(r, "employee_no"), LoginID: get(r, "login_id"), Name: get(r, "name")}
		if e.EmployeeNumber == "" && e.LoginID == "" {
			continue
		}
		if e.EmployeeNumber == "" || e.LoginID == "" {
			return nil, fmt.Errorf("roster %s line %d: employee_no and login_id are required", path, n+2)
		}
		out = append(out, e)
	}
	return out, nil
}
