package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/attendance-pipeline/attnd/internal/history"
	"github.com/attendance-pipeline/attnd/internal/report"
)

// cmdReport runs one analytics report on the ClickHouse history:
//
//	pusher report daily|late|missing|weekly-hours|gates|unmatched --config FILE
//	    [--from YYYY-MM-DD --to YYYY-MM-DD] [--site S] [--employee E]
//	    [--format table|csv|json] [--late-after 09:00] [--late-until 18:00]
//
// --from/--to default to the first day of the current month and today
// (local time). Exit 0 on success, 1 when the query fails, 2 on bad usage.
func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := "usage: pusher report " + strings.Join(report.Names(), "|") +
		" --config FILE [--from YYYY-MM-DD --to YYYY-MM-DD --site S --employee E --format table|csv|json --late-after HH:MM --late-until HH:MM]"
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	name := args[0]
	if _, err := report.SQL(name, "x"); err != nil {
		fmt.Fprintln(stderr, "pusher report:", err)
		return 2
	}
	fs := flag.NewFlagSet("pusher report "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "pusher config file (YAML; only the clickhouse: section is read)")
	from := fs.String("from", "", "first day, YYYY-MM-DD (default: first of this month)")
	to := fs.String("to", "", "last day, YYYY-MM-DD, inclusive (default: today)")
	site := fs.String("site", "", "only this site")
	employee := fs.String("employee", "", "only this employee number")
	format := fs.String("format", "table", "table, csv or json")
	lateAfter := fs.String("late-after", "09:00", "late report: first clock-in after this local time is late")
	lateUntil := fs.String("late-until", "18:00", "late report: a first clock-in at or after this local time starts another shift, not a late one")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *config == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	switch *format {
	case "table", "csv", "json":
	default:
		fmt.Fprintf(stderr, "pusher report: --format %q: want table, csv or json\n", *format)
		return 2
	}
	now := nowLocal()
	if *from == "" {
		*from = now.Format("2006-01") + "-01"
	}
	if *to == "" {
		*to = now.Format("2006-01-02")
	}
	cfg, err := history.ReadConfigFile(*config)
	if err != nil {
		fmt.Fprintln(stderr, "pusher report:", err)
		return 2
	}
	conn, err := cfg.Open(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "pusher report:", err)
		return 1
	}
	defer conn.Close()
	t, err := report.Run(ctx, conn, cfg.Database, name, report.Params{
		From: *from, To: *to, Site: *site, Employee: *employee, LateAfter: *lateAfter, LateUntil: *lateUntil,
	})
	if err != nil {
		fmt.Fprintln(stderr, "pusher report:", err)
		return 1
	}
	if err := report.Write(stdout, t, *format); err != nil {
		fmt.Fprintln(stderr, "pusher report:", err)
		return 1
	}
	return 0
}

// nowLocal is the current time in Korea, where the sites are.
func nowLocal() time.Time {
	if loc, err := time.LoadLocation("Asia/Seoul"); err == nil {
		return time.Now().In(loc)
	}
	return time.Now()
}
