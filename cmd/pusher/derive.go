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
	"os"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // --tz works on hosts without a zoneinfo database

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/derive"
)

// cmdDerive prints the daily records derived from punch events:
//
//	pusher derive [--day-start 04:00] [--max-shift 16h] [--dedup-window 60s]
//	    [--pass-as-arrival] [--tz Asia/Seoul] < punches.ndjson
//
// Input is NDJSON punch events (schemas/punch-event.v1.json); blank lines are
// skipped. Output is one DailyRecord per line, sorted by employee number and
// working day, with clock_in/clock_out as RFC 3339 or null and flags always
// an array. Rules are those of internal/derive. Exit 0 on success, 2 on bad
// usage or a bad input line (the message names the line), 1 when reading or
// writing fails.
func cmdDerive(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runDerive(ctx, args, os.Stdin, stdout, stderr)
}

func runDerive(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	def := derive.DefaultRules()
	fs := flag.NewFlagSet("pusher derive", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dayStart := fs.String("day-start", "04:00", `local time (HH:MM) or duration ("4h") before which an out without an in belongs to the previous day`)
	maxShift := fs.Duration("max-shift", def.MaxShift, "longest shift: an out further than this after the in is not its clock-out")
	dedup := fs.Duration("dedup-window", def.DedupWindow, "taps of the same mode this close collapse")
	passArrival := fs.Bool("pass-as-arrival", false, "the first pass shortly before the day's first in counts as arrival")
	tz := fs.String("tz", "", "zone for local dates, e.g. Asia/Seoul (default: each punch's own offset)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: pusher derive [--day-start 04:00] [--max-shift 16h] [--dedup-window 60s] [--pass-as-arrival] [--tz ZONE] < punches.ndjson")
		return 2
	}
	r := derive.Rules{MaxShift: *maxShift, DedupWindow: *dedup, PassAsArrival: *passArrival}
	var err error
	if r.DayStart, err = parseDayStart(*dayStart); err != nil {
		fmt.Fprintln(stderr, "pusher derive: --day-start:", err)
		return 2
	}
	if *tz != "" {
		if r.Location, err = time.LoadLocation(*tz); err != nil {
			fmt.Fprintf(stderr, "pusher derive: --tz %q: %v\n", *tz, err)
			return 2
		}
	}
	if err := r.Validate(); err != nil {
		fmt.Fprintln(stderr, "pusher derive:", err)
		return 2
	}

	punches, anonymous, err := readPunchLines(ctx, stdin)
	if err != nil {
		fmt.Fprintln(stderr, "pusher derive:", err)
		var bad *badLineError
		if errors.As(err, &bad) {
			return 2
		}
		return 1
	}
	if anonymous > 0 {
		fmt.Fprintf(stderr, "pusher derive: %d punches without employee_no ignored\n", anonymous)
	}

	w := bufio.NewWriter(stdout)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, rec := range derive.Days(r, punches) {
		if err := enc.Encode(rec); err != nil {
			fmt.Fprintln(stderr, "pusher derive: write:", err)
			return 1
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(stderr, "pusher derive: write:", err)
		return 1
	}
	return 0
}

// parseDayStart accepts a local time of day ("04:00", "4:30", "04:00:00")
// or a Go duration ("4h", "90m").
func parseDayStart(s string) (time.Duration, error) {
	if !strings.Contains(s, ":") {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%q: want HH:MM or a duration such as 4h", s)
		}
		return d, nil
	}
	parts := strings.Split(s, ":")
	if len(parts) > 3 {
		return 0, fmt.Errorf("%q: want HH:MM", s)
	}
	limits := []int{23, 59, 59}
	units := []time.Duration{time.Hour, time.Minute, time.Second}
	var d time.Duration
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > limits[i] || len(p) == 0 || len(p) > 2 || i > 0 && len(p) != 2 {
			return 0, fmt.Errorf("%q: want HH:MM between 00:00 and 23:59", s)
		}
		d += time.Duration(n) * units[i]
	}
	if len(parts) < 2 {
		return 0, fmt.Errorf("%q: want HH:MM", s)
	}
	return d, nil
}

// badLineError is an input line that is not a usable punch event.
type badLineError struct {
	line int
	err  error
}

func (e *badLineError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }

// readPunchLines reads NDJSON punch events. Punches without an employee
// number are counted, not returned: nobody's day can hold them.
func readPunchLines(ctx context.Context, in io.Reader) (ps []attendance.Punch, anonymous int, err error) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	n := 0
	for sc.Scan() {
		n++
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
		}
		line := sc.Bytes()
		if n == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var p attendance.Punch
		if err := json.Unmarshal(line, &p); err != nil {
			return nil, 0, &badLineError{n, err}
		}
		switch {
		case p.OccurredAt.IsZero():
			return nil, 0, &badLineError{n, errors.New("occurred_at missing")}
		case !p.Mode.Valid():
			return nil, 0, &badLineError{n, fmt.Errorf("mode %q: want in, out, pass, outing, return or unknown", p.Mode)}
		case p.EmployeeNo == "":
			anonymous++
			continue
		}
		ps = append(ps, p)
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return nil, 0, &badLineError{n + 1, errors.New("longer than 4 MiB")}
	} else if err != nil {
		return nil, 0, fmt.Errorf("read: %w", err)
	}
	return ps, anonymous, nil
}
