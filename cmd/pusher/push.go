package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/push"
)

// Exit codes of pusher push.
const (
	pushExitOK       = 0 // every record accepted or skipped (dry run: planned)
	pushExitSome     = 1 // some records rejected or failed, or I/O failed
	pushExitUsage    = 2 // bad flags, config or input line
	pushExitBlocked  = 3 // Daou answered 903: integration restricted
	pushExitConfigEr = 4 // 901/902/904 or a persistent 401
)

// pushFileConfig is the part of the pusher YAML that `pusher push` reads:
// state_dir and the daou section (strict: a misspelt daou key is an error).
// Other top-level sections belong to `pusher run` and are ignored here.
type pushFileConfig struct {
	StateDir string    `yaml:"state_dir"`
	Daou     yaml.Node `yaml:"daou"`
}

func loadPushConfig(path string, lookup func(string) (string, bool)) (push.Config, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return push.Config{}, "", err
	}
	var fc pushFileConfig
	if err := yaml.Unmarshal(b, &fc); err != nil {
		return push.Config{}, "", fmt.Errorf("%s: %w", path, err)
	}
	var cfg push.Config
	if fc.Daou.Kind != 0 {
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		if err := enc.Encode(&fc.Daou); err != nil {
			return push.Config{}, "", fmt.Errorf("%s: daou: %w", path, err)
		}
		dec := yaml.NewDecoder(&buf)
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil {
			return push.Config{}, "", fmt.Errorf("%s: daou: %w", path, err)
		}
	}
	cfg = cfg.WithEnv(lookup)
	return cfg, fc.StateDir, nil
}

// cmdPush pushes a file of daily records (backfill, corrections):
//
//	pusher push --config FILE --input daily.ndjson [--state DIR] [--dry-run]
//
// Input is NDJSON DailyRecords (as `pusher derive` prints them; "-" = stdin).
// Only records that changed since their last accepted push are sent. Stdout
// gets one PushResult per input record (NDJSON, in input order); stderr gets
// the logs and a one-line summary. DAOU_BASE_URL, DAOU_CLIENT_ID and
// DAOU_CLIENT_SECRET override the file. --dry-run makes no call to Daou and
// writes nothing: outcomes are skipped, would_send or would_verify.
func cmdPush(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runPush(ctx, args, os.Stdin, stdout, stderr, os.LookupEnv)
}

func runPush(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, lookup func(string) (string, bool)) int {
	fs := flag.NewFlagSet("pusher push", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "pusher YAML config (daou: section and state_dir:)")
	input := fs.String("input", "", `NDJSON daily records ("-" = stdin)`)
	stateFlag := fs.String("state", "", "state directory (default: state_dir from the config)")
	dry := fs.Bool("dry-run", false, "show what would be sent; no network call, no ledger write")
	if err := fs.Parse(args); err != nil {
		return pushExitUsage
	}
	if *cfgPath == "" || *input == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: pusher push --config FILE --input daily.ndjson [--state DIR] [--dry-run]")
		return pushExitUsage
	}
	cfg, stateDir, err := loadPushConfig(*cfgPath, lookup)
	if err != nil {
		fmt.Fprintln(stderr, "pusher push: config:", err)
		return pushExitUsage
	}
	if *stateFlag != "" {
		stateDir = *stateFlag
	}
	if stateDir == "" {
		fmt.Fprintln(stderr, "pusher push: no state directory: set state_dir in the config or --state (the push ledger lives there)")
		return pushExitUsage
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "pusher push: config:", err)
		return pushExitUsage
	}
	recs, err := readDailyRecords(*input, stdin)
	if err != nil {
		fmt.Fprintln(stderr, "pusher push:", err)
		return pushExitUsage
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil)).With("component", "pusher", "command", "push")
	ledgerPath := filepath.Join(stateDir, "push-ledger.db")
	var (
		results []attendance.PushResult
		runErr  error
	)
	if *dry {
		c, err := push.NewClient(cfg, "", nil, log)
		if err != nil {
			fmt.Fprintln(stderr, "pusher push:", err)
			return pushExitUsage
		}
		l, err := push.OpenLedgerReadOnly(ledgerPath)
		if err != nil {
			fmt.Fprintln(stderr, "pusher push:", err)
			return pushExitSome
		}
		defer l.Close()
		results, runErr = push.NewPusher(c, l, log, nil).Plan(recs)
	} else {
		c, err := push.NewClient(cfg, stateDir, nil, log)
		if err != nil {
			fmt.Fprintln(stderr, "pusher push:", err)
			return pushExitUsage
		}
		l, err := push.OpenLedger(ledgerPath)
		if err != nil {
			fmt.Fprintln(stderr, "pusher push:", err)
			return pushExitSome
		}
		defer l.Close()
		results, runErr = push.NewPusher(c, l, log, nil).Push(ctx, recs)
	}
	w := bufio.NewWriter(stdout)
	enc := json.NewEncoder(w)
	counts := map[string]int{}
	for _, r := range results {
		counts[r.Outcome]++
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(stderr, "pusher push: write:", err)
			return pushExitSome
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(stderr, "pusher push: write:", err)
		return pushExitSome
	}
	fmt.Fprintf(stderr, "pusher push: %d records: %s%s\n", len(recs), summary(counts), map[bool]string{true: " (dry run)", false: ""}[*dry])
	switch {
	case errors.Is(runErr, push.ErrBlocked):
		fmt.Fprintln(stderr, "pusher push: STOPPED: Daou restricted the integration (code 903, 서비스 이용 제한). Stop every pusher of this tenant and contact Daou (API 센터 1:1 문의 or 1599-9460) before pushing again:", runErr)
		return pushExitBlocked
	case errors.Is(runErr, push.ErrConfig):
		fmt.Fprintln(stderr, "pusher push: STOPPED: Daou refused the credentials or the service (901 client id, 902 client secret, 904 service period expired, or a persistent 401). Check daou.client_id / DAOU_CLIENT_ID, the secret and the tenant's OpenAPI settings:", runErr)
		return pushExitConfigEr
	case runErr != nil:
		fmt.Fprintln(stderr, "pusher push:", runErr)
		return pushExitSome
	case counts[attendance.PushRejected]+counts[attendance.PushFailed] > 0:
		return pushExitSome
	}
	return pushExitOK
}

func summary(counts map[string]int) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, counts[k]))
	}
	if len(parts) == 0 {
		return "nothing to do"
	}
	return strings.Join(parts, " ")
}

// readDailyRecords reads NDJSON DailyRecords; blank lines are skipped, a bad
// line is an error naming it.
func readDailyRecords(path string, stdin io.Reader) ([]attendance.DailyRecord, error) {
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var out []attendance.DailyRecord
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var rec attendance.DailyRecord
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, n, err)
		}
		if rec.EmployeeNo == "" || rec.WorkingDay == "" {
			return nil, fmt.Errorf("%s line %d: employee_no and working_day are required", path, n)
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}
