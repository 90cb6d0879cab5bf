package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/parsers"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
)

// cmdParse prints the punches of each file as NDJSON on stdout, in file
// order, and the rejects as NDJSON to --rejects (stderr by default). Exit 0
// when every file was read (row rejects allowed), 2 when a file could not be
// read, decoded or matched to a layout (one line per such file on stderr;
// the other files are still parsed).
func cmdParse(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ingest parse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	vendor := fs.String("vendor", "auto", "adtcaps|secom|telecop|auto")
	layout := fs.String("layout", "auto", "layout name or auto")
	site := fs.String("site", "default", "site name stamped on every event")
	tz := fs.String("tz", "Asia/Seoul", "the site's time zone (vendor times are naive local wall-clock)")
	rejects := fs.String("rejects", "", "where reject records go as NDJSON (default stderr)")
	cardKeyEnv := fs.String("card-key-env", "", "environment variable holding the site's card HMAC key (enables card_hash)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ingest parse [--vendor V] [--layout L] [--site S] [--tz ZONE] [--rejects PATH] FILE...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		fmt.Fprintf(stderr, "ingest parse: --tz %q: %v\n", *tz, err)
		return 2
	}
	var cardKey []byte
	if *cardKeyEnv != "" {
		if cardKey = []byte(os.Getenv(*cardKeyEnv)); len(cardKey) == 0 {
			fmt.Fprintf(stderr, "ingest parse: --card-key-env: %s is empty\n", *cardKeyEnv)
			return 2
		}
	}

	out := bufio.NewWriterSize(stdout, 64<<10)
	defer out.Flush()
	rejOut := stderr
	if *rejects != "" {
		f, err := os.Create(*rejects)
		if err != nil {
			fmt.Fprintf(stderr, "ingest parse: --rejects: %v\n", err)
			return 2
		}
		defer f.Close()
		rejOut = f
	}
	rejBuf := bufio.NewWriter(rejOut)
	defer rejBuf.Flush()
	emit := newNDJSONEmitter(out, rejBuf)

	code := 0
	for _, path := range fs.Args() {
		req := parsers.Request{
			Vendor: *vendor,
			Layout: *layout,
			Name:   filepath.Base(path),
			Options: parsekit.Options{
				Site:     *site,
				Location: loc,
				File:     path,
				CardKey:  cardKey,
			},
		}
		if err := parseOne(ctx, path, req, emit); err != nil {
			out.Flush()
			rejBuf.Flush()
			fmt.Fprintf(stderr, "ingest parse: %v\n", err)
			code = 2
			if ctx.Err() != nil {
				return code
			}
		}
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(stderr, "ingest parse: write stdout: %v\n", err)
		return 2
	}
	return code
}

func parseOne(ctx context.Context, path string, req parsers.Request, emit parsekit.Emitter) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	if _, err := parsers.Parse(ctx, f, req, emit); err != nil {
		if parsekit.IsFileError(err) {
			return err // already names the file
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// ndjsonEmitter writes punches and rejects as one JSON object per line,
// without HTML escaping so Korean text and <> stay readable.
type ndjsonEmitter struct {
	punches, rejects *json.Encoder
}

func newNDJSONEmitter(punches, rejects io.Writer) *ndjsonEmitter {
	p, r := json.NewEncoder(punches), json.NewEncoder(rejects)
	p.SetEscapeHTML(false)
	r.SetEscapeHTML(false)
	return &ndjsonEmitter{punches: p, rejects: r}
}

func (e *ndjsonEmitter) Punch(p attendance.Punch) error   { return e.punches.Encode(p) }
func (e *ndjsonEmitter) Reject(r attendance.Reject) error { return e.rejects.Encode(r) }
