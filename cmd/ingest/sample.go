package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/attendance-pipeline/attnd/internal/sample"
)

// cmdSample writes realistic drops for a fictional company (see internal/sample).
func cmdSample(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ingest sample", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "sample", "output folder (drops/<site>/, roster.csv, truth.json)")
	from := fs.String("from", time.Now().Format("2006-01-02"), "first day YYYY-MM-DD")
	to := fs.String("to", "", "last day YYYY-MM-DD (default: --from)")
	people := fs.Int("people", 300, "employees in HR")
	unmatched := fs.Int("unmatched", 3, "vendor users per site unknown to HR")
	seed := fs.Uint64("seed", 1, "random seed (same seed, same drops)")
	weekends := fs.Bool("weekends", false, "generate weekend days too")
	clean := fs.Bool("no-bad-rows", false, "leave out the garbage rows")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	loc, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		loc = time.FixedZone("KST", 9*3600)
	}
	f, err := time.ParseInLocation("2006-01-02", *from, loc)
	if err != nil {
		fmt.Fprintf(stderr, "ingest sample: --from: %v\n", err)
		return 2
	}
	t := f
	if *to != "" {
		if t, err = time.ParseInLocation("2006-01-02", *to, loc); err != nil {
			fmt.Fprintf(stderr, "ingest sample: --to: %v\n", err)
			return 2
		}
	}
	truth, err := sample.Generate(sample.Config{Dir: *out, From: f, To: t, People: *people, Unmatched: *unmatched,
		Seed: *seed, Location: loc, BadRows: !*clean, Weekends: *weekends})
	if err != nil {
		fmt.Fprintf(stderr, "ingest sample: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %d files with %d punches, %d bad rows, %d working days to %s\n",
		len(truth.Files), truth.Punches, truth.Rejects, len(truth.Days), *out)
	return 0
}
