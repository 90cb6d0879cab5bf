// Package ingest runs the drop sources into Kafka: list ready files, hash
// them, ask the ledger, parse them streaming into the publisher, record the
// outcome, then apply the source's after-action.
//
// Delivery guarantee: at-least-once onto Kafka, effect idempotent through the
// content-derived event_id (and reject_id) that consumers dedupe on. A file
// is marked done in the ledger only after every punch and reject it produced,
// and its file record, were acknowledged by Kafka (acks=all); only then is the
// after-action (move/delete) applied. A crash or a Kafka failure mid-file
// leaves the file pending or failed, and it is published again from the start
// (event_id and reject_id are derived from content, so consumers dedupe).
// Identical content is published once (ledger by SHA-256); a file that cannot
// be parsed is quarantined with its reason and the ingest goes on. Proven by
// cmd/ingest's TestCrashKill9 (SIGKILL at random points, restart, no event
// lost) and this package's fault-injection tests against kfake.
package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/ledger"
	"github.com/attendance-pipeline/attnd/internal/obs"
	"github.com/attendance-pipeline/attnd/internal/parsers"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
	"github.com/attendance-pipeline/attnd/internal/publish"
	"github.com/attendance-pipeline/attnd/internal/source"
	"github.com/attendance-pipeline/attnd/internal/source/dirsrc"
)

// Factory builds a source from its spec; the ingest keys factories by type.
type Factory func(ctx context.Context, spec source.Spec, logger *slog.Logger) (source.Source, error)

// DirFactory builds the local-folder source.
func DirFactory(_ context.Context, spec source.Spec, logger *slog.Logger) (source.Source, error) {
	return dirsrc.New(spec, logger)
}

// Ingest is a configured, running-or-ready ingest.
type Ingest struct {
	cfg     Config
	led     *ledger.Ledger
	pub     *publish.Publisher
	logger  *slog.Logger
	metrics *obs.IngestMetrics
	runners []*runner
	// gaugeAt is when attnd_ingest_files{state} was last read from the
	// ledger (unix nanos): reading it walks every entry, so it is refreshed
	// at most every gaugeEvery while files flow, and at the end of a scan.
	gaugeAt atomic.Int64
	// gaugeMu orders the refreshes of concurrent sources: a read of the
	// ledger must not be set after a newer one.
	gaugeMu sync.Mutex
}

const gaugeEvery = 5 * time.Second

type runner struct {
	spec   source.Spec
	src    source.Source
	opts   parsekit.Options
	logger *slog.Logger
	// retryAt holds failed (source, path) -> earliest next attempt.
	retryAt map[string]time.Time
	// failing holds the last error of each path whose latest attempt failed.
	failing map[string]error
}

// New opens the ledger, builds the publisher and every source. It does not
// contact Kafka (see Start) so that a broker down at boot shows in /readyz.
func New(ctx context.Context, cfg Config, factories map[string]Factory, logger *slog.Logger, metrics *obs.IngestMetrics) (*Ingest, error) {
	if logger == nil {
		logger = obs.Discard()
	}
	if metrics == nil {
		metrics = obs.NewIngestMetrics(obs.NewRegistry())
	}
	led, err := ledger.Open(ctx, cfg.StateDir)
	if err != nil {
		return nil, err
	}
	pub, err := publish.New(cfg.Kafka, logger, metrics)
	if err != nil {
		led.Close()
		return nil, err
	}
	in := &Ingest{cfg: cfg, led: led, pub: pub, logger: logger, metrics: metrics}
	for i, spec := range cfg.Sources {
		f := factories[spec.Type]
		if f == nil {
			in.Close()
			return nil, fmt.Errorf("sources[%d].type: no source implementation registered for %q", i, spec.Type)
		}
		src, err := f(ctx, spec, logger)
		if err != nil {
			in.Close()
			return nil, fmt.Errorf("sources[%d] (%s): %w", i, spec.Name, err)
		}
		opts, err := in.parseOptions(spec)
		if err != nil {
			src.Close()
			in.Close()
			return nil, fmt.Errorf("sources[%d] (%s): %w", i, spec.Name, err)
		}
		metrics.InitSource(spec.Name)
		in.runners = append(in.runners, &runner{
			spec: spec, src: src, opts: opts,
			logger:  in.logger.With(obs.KeySource, spec.Name),
			retryAt: map[string]time.Time{},
			failing: map[string]error{},
		})
	}
	return in, nil
}

func (in *Ingest) parseOptions(spec source.Spec) (parsekit.Options, error) {
	site := in.cfg.Sites[spec.Site]
	tz := spec.TZ
	if tz == "" {
		tz = site.TZ
	}
	loc := parsekit.Seoul()
	if tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			return parsekit.Options{}, fmt.Errorf("tz %q: %w", tz, err)
		}
		loc = l
	}
	o := parsekit.Options{Site: spec.Site, Location: loc, Codes: codesFor(site)}
	if site.CardKeyEnv != "" {
		key := os.Getenv(site.CardKeyEnv)
		if key == "" {
			return parsekit.Options{}, fmt.Errorf("sites.%s.card_key_env: environment variable %s is not set", spec.Site, site.CardKeyEnv)
		}
		o.CardKey = []byte(key)
	}
	return o, nil
}

// Checks returns the readiness checks: the broker and every source.
func (in *Ingest) Checks() map[string]obs.Check {
	m := map[string]obs.Check{"kafka": in.pub.Ping}
	for _, r := range in.runners {
		m["source:"+r.spec.Name] = r.src.Ping
	}
	return m
}

// Start creates the topics (existing ones are fine) and logs what a crash left pending.
func (in *Ingest) Start(ctx context.Context) error {
	if err := in.pub.EnsureTopics(ctx); err != nil {
		return err
	}
	pend, err := in.led.Pending(ctx)
	if err != nil {
		return err
	}
	for _, e := range pend {
		in.logger.Info("resuming file left pending", obs.KeySource, e.Source, obs.KeyFile, e.Path, obs.KeySHA256, e.SHA256, "attempts", e.Attempts)
	}
	in.refreshStateGauge(ctx, true)
	return nil
}

// Close closes sources, the publisher and the ledger.
func (in *Ingest) Close() error {
	var errs []error
	for _, r := range in.runners {
		errs = append(errs, r.src.Close())
	}
	if in.pub != nil {
		errs = append(errs, in.pub.Close())
	}
	if in.led != nil {
		errs = append(errs, in.led.Close())
	}
	return errors.Join(errs...)
}

// Ledger exposes the ledger (status commands, tests).
func (in *Ingest) Ledger() *ledger.Ledger { return in.led }

// Run watches every source until ctx ends: each source is scanned on its
// notifications and every poll_interval. It returns nil when ctx is cancelled.
func (in *Ingest) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, r := range in.runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in.loop(ctx, r)
		}()
	}
	wg.Wait()
	return nil
}

func (in *Ingest) loop(ctx context.Context, r *runner) {
	tick := time.NewTicker(r.spec.PollInterval)
	defer tick.Stop()
	for {
		if _, err := in.scan(ctx, r); err != nil && ctx.Err() == nil {
			r.logger.Warn("scan failed", obs.KeyError, err.Error())
		}
		in.refreshStateGauge(ctx, false) // at most every gaugeEvery: heals a skipped refresh
		select {
		case <-ctx.Done():
			return
		case <-r.src.Notify():
		case <-tick.C:
		}
	}
}

// Once processes what is ready in every source now and returns when done.
// Files are only ready after two looks and MinAge, so it looks again until a
// look finds nothing new (and at least MinAge has passed since it started).
// The error lists every source that could not be listed and every file that failed.
func (in *Ingest) Once(ctx context.Context, settle time.Duration) error {
	if settle <= 0 {
		settle = 500 * time.Millisecond
	}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, r := range in.runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			for round := 0; ; round++ {
				n, err := in.scan(ctx, r)
				if err == nil && ctx.Err() != nil {
					err = ctx.Err() // stopped mid-scan: what is left is not done
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("source %s: %w", r.spec.Name, err))
					mu.Unlock()
					return
				}
				if round >= 1 && n == 0 && time.Since(start) >= r.spec.MinAge+settle {
					mu.Lock()
					for p, err := range r.failing {
						errs = append(errs, fmt.Errorf("source %s: file %s: %w", r.spec.Name, p, err))
					}
					mu.Unlock()
					return
				}
				select {
				case <-ctx.Done():
					mu.Lock()
					errs = append(errs, ctx.Err())
					mu.Unlock()
					return
				case <-time.After(settle):
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// scan lists a source and handles every ready file; it returns how many files
// it took to a final state (done or quarantined). A failed attempt is not
// progress, so Once ends while Kafka refuses writes instead of retrying
// forever. A List error is returned; a file's error is logged and recorded,
// and the scan goes on with the next file.
//
// Listing, opening (and spooling), the after-action and the bookkeeping of
// retries stay on the source's goroutine, in listing order; up to
// spec.Parallel files at a time are decided in the ledger, parsed, published
// and completed by workers, each with its own ledger entry and file writer.
// Two files with the same content are never in flight together: the second
// waits for the first, then finds its content done (a duplicate).
func (in *Ingest) scan(ctx context.Context, r *runner) (int, error) {
	files, err := r.src.List(ctx)
	if err != nil {
		in.metrics.SourceError(r.spec.Name, "list")
		return 0, fmt.Errorf("list: %w", err)
	}
	n := 0
	defer func() {
		if n > 0 {
			in.refreshStateGauge(context.WithoutCancel(ctx), true)
		}
	}()
	parallel := max(r.spec.Parallel, 1)
	results := make(chan fileResult, parallel)
	inflight := map[string]bool{} // contents being processed
	running := 0
	settle := func(res fileResult) {
		running--
		delete(inflight, res.sum)
		worked, err := res.worked, res.err
		if err == nil && res.finish {
			err = in.finish(ctx, r, res.f, res.log)
		}
		switch {
		case res.retry:
			r.retryAt[res.f.Path] = time.Now().Add(in.cfg.Retry)
		case worked:
			delete(r.retryAt, res.f.Path)
		}
		if worked {
			n++
		}
		if err != nil && ctx.Err() == nil {
			r.failing[res.f.Path] = err
			r.logger.Error("file failed, will retry", obs.KeyFile, res.f.Path, obs.KeyError, err.Error())
		} else if err == nil && worked {
			delete(r.failing, res.f.Path)
		}
	}
	for _, f := range files {
		if ctx.Err() != nil {
			break
		}
		job, res := in.prepare(ctx, r, f)
		if job == nil {
			running++
			settle(res)
			continue
		}
		// A worker slot, and no other file with this content in flight.
		for running >= parallel || inflight[job.sum] {
			settle(<-results)
		}
		inflight[job.sum] = true
		running++
		go func() { results <- in.process(ctx, r, job) }()
	}
	for running > 0 {
		settle(<-results)
	}
	return n, nil
}

// fileJob is a listed file opened and hashed on the source's goroutine.
type fileJob struct {
	f       source.File
	log     *slog.Logger
	content io.Reader
	sum     string
	cleanup func()
}

// fileResult is what became of a file, for the source's goroutine.
type fileResult struct {
	f      source.File
	log    *slog.Logger
	sum    string // the content's hash when a worker processed it
	worked bool   // reached a final state (done or quarantined) in this call
	finish bool   // apply the after-action
	retry  bool   // failed: wait cfg.Retry before the next attempt
	err    error
}

// prepare is the part of a file's handling on the source's goroutine: the
// retry delay, the ledger's word on an unchanged file, opening and hashing.
// It returns a job for a worker, or the file's result when there is none.
func (in *Ingest) prepare(ctx context.Context, r *runner, f source.File) (*fileJob, fileResult) {
	log := r.logger.With(obs.KeyFile, f.Path)
	res := fileResult{f: f, log: log}
	if at, ok := r.retryAt[f.Path]; ok && time.Now().Before(at) {
		return nil, res
	}
	// Settled content at an unchanged (path, size, mtime): no need to hash.
	if e, ok, err := in.led.Known(ctx, f.Source, f.Path, f.Size, f.ModTime); err != nil {
		res.err = err
		return nil, res
	} else if ok {
		// A crash between "done" and the after-action leaves the file here.
		res.finish = e.State == attendance.FileDone
		return nil, res
	}

	rc, err := r.src.Open(ctx, f)
	if err != nil {
		in.metrics.SourceError(r.spec.Name, "open")
		res.err = fmt.Errorf("open: %w", err)
		return nil, res
	}
	content, sum, size, cleanup, err := in.spool(ctx, rc)
	if err != nil {
		in.metrics.SourceError(r.spec.Name, "read")
		res.err = fmt.Errorf("read %s: %w", f.Path, err)
		return nil, res
	}
	in.metrics.Bytes.WithLabelValues(r.spec.Name).Add(float64(size))
	return &fileJob{f: f, log: log.With(obs.KeySHA256, sum), content: content, sum: sum, cleanup: cleanup}, res
}

// process takes an opened file through the ledger, the parser and Kafka (on
// a worker goroutine).
func (in *Ingest) process(ctx context.Context, r *runner, job *fileJob) (res fileResult) {
	defer job.cleanup()
	f, log := job.f, job.log
	res = fileResult{f: f, log: log, sum: job.sum}
	fail := func(err error) fileResult {
		res.err, res.retry = err, true
		in.metrics.Files.WithLabelValues(r.spec.Name, attendance.FileFailed).Inc()
		in.refreshStateGauge(ctx, false)
		return res
	}

	id := ledger.FileID{Source: f.Source, Path: f.Path, Size: f.Size, ModTime: f.ModTime, SHA256: job.sum}
	decision, entry, err := in.led.Decide(ctx, id)
	if err != nil {
		res.err = err
		return res
	}
	switch decision {
	case ledger.SkipDuplicate:
		log.Info("same content already ingested, skipping", "done_as", entry.Path)
		in.metrics.Files.WithLabelValues(r.spec.Name, "duplicate").Inc()
		res.finish = true
		return res
	case ledger.SkipQuarantined:
		log.Info("same content was quarantined before, skipping", "reason", entry.Reason)
		return res
	}
	if entry.Attempts > 1 {
		log.Info("re-publishing file from the start", "attempt", entry.Attempts)
	}
	pres, perr := in.publishFile(ctx, r, f, job.content, job.sum)
	if ctx.Err() != nil {
		// Stopping: leave the entry pending; it is resumed on the next start.
		res.err = ctx.Err()
		return res
	}
	rec := attendance.FileRecord{
		Source: f.Source, Path: f.Path, Size: f.Size, ModTime: f.ModTime, SHA256: job.sum,
		Site: r.spec.Site, Vendor: pres.Vendor, Layout: pres.Layout, Encoding: pres.Encoding,
		Punches: pres.Punches, Rejects: pres.Rejects, At: time.Now().UTC(),
	}
	out := ledger.Outcome{Site: r.spec.Site, Vendor: pres.Vendor, Layout: pres.Layout, Encoding: pres.Encoding, Punches: pres.Punches, Rejects: pres.Rejects}
	switch {
	case perr == nil:
		rec.State, out.State = attendance.FileDone, attendance.FileDone
	case parsekit.IsFileError(perr):
		rec.State, out.State = attendance.FileQuarantined, attendance.FileQuarantined
		rec.Reason, out.Reason = perr.Error(), perr.Error()
	default:
		out.State, out.Reason = attendance.FileFailed, perr.Error()
		if _, err := in.led.Complete(ctx, job.sum, out); err != nil {
			res.err = errors.Join(perr, err)
			return res
		}
		return fail(perr)
	}
	// The file record is the last message of the file; done only once it is acknowledged.
	if err := in.pub.PublishFile(ctx, rec); err != nil {
		out.State, out.Reason = attendance.FileFailed, err.Error()
		if _, lerr := in.led.Complete(ctx, job.sum, out); lerr != nil {
			err = errors.Join(err, lerr)
		}
		return fail(err)
	}
	if _, err := in.led.Complete(ctx, job.sum, out); err != nil {
		res.err = err
		return res
	}
	res.worked = true
	in.metrics.Files.WithLabelValues(r.spec.Name, out.State).Inc()
	in.refreshStateGauge(ctx, false)
	res.log = log.With(obs.KeyLayout, pres.Layout)
	if out.State == attendance.FileQuarantined {
		res.log.Warn("file quarantined", "reason", out.Reason)
		return res
	}
	in.metrics.Events.WithLabelValues(r.spec.Name).Add(float64(pres.Punches))
	in.metrics.Rejects.WithLabelValues(r.spec.Name).Add(float64(pres.Rejects))
	res.log.Info("file done", "punches", pres.Punches, "rejects", pres.Rejects, "encoding", pres.Encoding, "vendor", pres.Vendor)
	res.finish = true
	return res
}

func (in *Ingest) finish(ctx context.Context, r *runner, f source.File, log *slog.Logger) error {
	if err := r.src.Finish(ctx, f); err != nil {
		in.metrics.SourceError(r.spec.Name, "finish")
		return fmt.Errorf("after-action %s: %w", r.spec.After, err)
	}
	return nil
}

// errChanged: the content read for parsing is not the content hashed.
var errChanged = errors.New("file content changed while it was being read")

// publishFile parses content into the publisher and flushes; it returns nil
// only when every punch and reject is acknowledged.
func (in *Ingest) publishFile(ctx context.Context, r *runner, f source.File, content io.Reader, sum string) (parsers.Result, error) {
	opts := r.opts
	opts.File = f.Path
	w := in.pub.File(ctx, publish.FileMeta{SourceFile: f.Path, SHA256: sum, Site: r.spec.Site})
	defer w.Close() // stops the writer's sender when the file is given up
	h := sha256.New()
	res, err := parsers.Parse(ctx, io.TeeReader(content, h), parsers.Request{
		Vendor: r.spec.Vendor, Layout: r.spec.Layout, Name: path.Base(filepath.ToSlash(f.Path)), Options: opts,
	}, w)
	if err != nil && !parsekit.IsFileError(err) {
		return res, err
	}
	// Flush what was emitted even for a quarantined file: those rows were valid.
	if ferr := w.Flush(); ferr != nil {
		return res, ferr
	}
	if err != nil {
		return res, err
	}
	if _, cerr := io.Copy(h, content); cerr != nil {
		return res, fmt.Errorf("read rest of %s: %w", f.Path, cerr)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return res, errChanged
	}
	return res, nil
}

// spool makes content re-readable after hashing: an *os.File is hashed and
// rewound; anything else (FTP) is copied to a temp file in the state dir.
func (in *Ingest) spool(ctx context.Context, rc io.ReadCloser) (io.Reader, string, int64, func(), error) {
	h := sha256.New()
	if f, ok := rc.(*os.File); ok {
		n, err := copyCtx(ctx, h, f)
		if err == nil {
			_, err = f.Seek(0, io.SeekStart)
		}
		if err != nil {
			f.Close()
			return nil, "", 0, nil, err
		}
		return f, hex.EncodeToString(h.Sum(nil)), n, func() { f.Close() }, nil
	}
	defer rc.Close()
	dir := filepath.Join(in.cfg.StateDir, "spool")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, "", 0, nil, err
	}
	tmp, err := os.CreateTemp(dir, "drop-*")
	if err != nil {
		return nil, "", 0, nil, err
	}
	cleanup := func() { tmp.Close(); os.Remove(tmp.Name()) }
	n, err := copyCtx(ctx, io.MultiWriter(tmp, h), rc)
	if err == nil {
		_, err = tmp.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		return nil, "", 0, nil, err
	}
	return tmp, hex.EncodeToString(h.Sum(nil)), n, cleanup, nil
}

func copyCtx(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, err := src.Read(buf)
		if k > 0 {
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return n, werr
			}
			n += int64(k)
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func (in *Ingest) refreshStateGauge(ctx context.Context, force bool) {
	now := time.Now().UnixNano()
	if !force && now-in.gaugeAt.Load() < int64(gaugeEvery) {
		return
	}
	in.gaugeAt.Store(now)
	in.gaugeMu.Lock()
	defer in.gaugeMu.Unlock()
	c, err := in.led.Counts(ctx)
	if err != nil {
		return
	}
	for state, n := range c {
		in.metrics.FilesByState.WithLabelValues(state).Set(float64(n))
	}
}
