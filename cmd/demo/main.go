// Command demo runs the main job on the embedded engines: a day of drops for
// a 300-person company on three sites through a folder and an FTP drop, the
// ingest, the pusher, the Daou simulator and ClickHouse, then a summary.
//
//	demo [--dir var/demo] [--people 300] [--days 1] [--date 2026-11-20] [--kafka host:port] [-v]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/attendance-pipeline/attnd/internal/demo"
	"github.com/attendance-pipeline/attnd/internal/obs"
)

func main() {
	dir := flag.String("dir", "var/demo", "where the demo keeps its data (emptied first)")
	people := flag.Int("people", 300, "employees of the fictional company")
	days := flag.Int("days", 1, "days of drops")
	date := flag.String("date", "", "first day (YYYY-MM-DD); default yesterday")
	kafka := flag.String("kafka", "", "use this Kafka broker instead of the in-process one")
	timeout := flag.Duration("timeout", 10*time.Minute, "how long to wait for every day to reach Daou")
	verbose := flag.Bool("v", false, "log every component (JSON on stderr)")
	flag.Parse()

	day := time.Now().AddDate(0, 0, -1)
	if *date != "" {
		d, err := time.Parse("2006-01-02", *date)
		if err != nil {
			fmt.Fprintln(os.Stderr, "demo: --date:", err)
			os.Exit(2)
		}
		day = d
	}
	log := obs.Discard()
	if *verbose {
		log = obs.NewLogger(os.Stderr, slog.LevelInfo, "demo")
	}
	root, _ := os.Getwd()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := demo.Run(ctx, demo.Options{Dir: filepath.Clean(*dir), Day: day, Days: *days, People: *people, Seed: 1,
		Kafka: *kafka, RepoRoot: root, Timeout: *timeout, Log: log, Out: os.Stdout})
	if s != nil {
		fmt.Printf("\nsummary: files %d, punches %d (history %d), rejects %d (history %d), unmatched people %d, days accepted by Daou %d of %d, identical resends %d\n",
			s.Files, s.Punches, s.HistoryPunches, s.Rejects, s.HistoryRejects, s.UnmatchedPeople, s.DaysAccepted, s.DaysExpected, s.IdenticalResends)
	}
	if s != nil && len(s.DaysWrong) > 0 {
		fmt.Printf("\ndays wrong or missing in Daou (%d):\n", len(s.DaysWrong))
		for i, w := range s.DaysWrong {
			if i == 20 {
				fmt.Println("  ...")
				break
			}
			fmt.Println("  " + w)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}
