// Package dirsrc is the local-folder drop source.
//
// Guarantee: a file is listed only once it is ready (matches the include
// globs and none of the exclude globs, its size and mtime held still across two
// looks, and it is at least MinAge old), and the after-action (leave, move:DIR,
// delete) touches a file only in Finish, which the ingest calls once every
// event of the file is acknowledged. fsnotify gives prompt pickup; the
// ingest's periodic rescan (List on every poll) catches whatever fsnotify
// misses (overflows, network filesystems).
package dirsrc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/attendance-pipeline/attnd/internal/source"
	"github.com/fsnotify/fsnotify"
)

// After is a parsed after-action.
type After struct {
	Kind string // "leave", "move" or "delete"
	Dir  string // for move
}

// ParseAfter parses leave | delete | move:DIR ("" = leave).
func ParseAfter(s string) (After, error) {
	switch {
	case s == "" || s == "leave":
		return After{Kind: "leave"}, nil
	case s == "delete":
		return After{Kind: "delete"}, nil
	case strings.HasPrefix(s, "move:") && strings.TrimSpace(s[len("move:"):]) != "":
		return After{Kind: "move", Dir: strings.TrimSpace(s[len("move:"):])}, nil
	}
	return After{}, fmt.Errorf("%q is not leave, delete or move:DIR", s)
}

// ValidGlobs checks include/exclude patterns.
func ValidGlobs(globs []string) error {
	for _, g := range globs {
		if _, err := filepath.Match(g, ""); err != nil {
			return fmt.Errorf("glob %q: %w", g, err)
		}
	}
	return nil
}

type look struct {
	size  int64
	mtime time.Time
	ready bool // held still across two looks
}

// Source is a local folder. Like every source.Source it is driven from one
// goroutine, but Notify's channel is fed by a watcher goroutine.
type Source struct {
	spec   source.Spec
	dir    string
	after  After
	logger *slog.Logger
	now    func() time.Time

	watcher *fsnotify.Watcher
	notify  chan struct{}
	stop    chan struct{}
	wg      sync.WaitGroup

	mu    sync.Mutex
	looks map[string]look // last look at each candidate path
	timer *time.Timer
}

// Option tunes a Source.
type Option func(*Source)

// WithoutWatch disables fsnotify (the source then relies on rescans only).
func WithoutWatch() Option { return func(s *Source) { s.watcher = nil } }

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(s *Source) { s.now = now } }

// New creates the source for spec (type dir). The folder must exist.
func New(spec source.Spec, logger *slog.Logger, opts ...Option) (*Source, error) {
	if spec.Path == "" {
		return nil, errors.New("dirsrc: path is empty")
	}
	dir, err := filepath.Abs(spec.Path)
	if err != nil {
		return nil, fmt.Errorf("dirsrc %s: path %q: %w", spec.Name, spec.Path, err)
	}
	after, err := ParseAfter(spec.After)
	if err != nil {
		return nil, fmt.Errorf("dirsrc %s: after: %w", spec.Name, err)
	}
	if after.Kind == "move" {
		if after.Dir, err = filepath.Abs(after.Dir); err != nil {
			return nil, fmt.Errorf("dirsrc %s: after move dir: %w", spec.Name, err)
		}
	}
	if err := ValidGlobs(spec.Include); err != nil {
		return nil, fmt.Errorf("dirsrc %s: include: %w", spec.Name, err)
	}
	if err := ValidGlobs(spec.Exclude); err != nil {
		return nil, fmt.Errorf("dirsrc %s: exclude: %w", spec.Name, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Source{
		spec: spec, dir: dir, after: after,
		logger: logger.With("component", "dirsrc", "source", spec.Name),
		now:    time.Now,
		notify: make(chan struct{}, 1),
		stop:   make(chan struct{}),
		looks:  map[string]look{},
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		s.logger.Warn("fsnotify unavailable, relying on rescans", "error", err.Error())
	} else {
		s.watcher = w
	}
	for _, o := range opts {
		o(s)
	}
	if s.watcher == nil && w != nil {
		w.Close()
	}
	if s.watcher != nil {
		if err := s.watcher.Add(dir); err != nil {
			s.watcher.Close()
			return nil, fmt.Errorf("dirsrc %s: watch %s: %w", spec.Name, dir, err)
		}
		s.wg.Add(1)
		go s.watch()
	}
	return s, nil
}

func (s *Source) watch() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case ev, ok := <-s.watcher.Events:
			if !ok {
				return
			}
			if ev.Has(fsnotify.Create) || ev.Has(fsnotify.Write) || ev.Has(fsnotify.Rename) || ev.Has(fsnotify.Chmod) {
				s.poke()
			}
		case err, ok := <-s.watcher.Errors:
			if !ok {
				return
			}
			// Overflow or a watch error: events were lost, so rescan.
			s.logger.Warn("fsnotify error, rescanning", "error", err.Error())
			s.poke()
		}
	}
}

func (s *Source) poke() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Name is the source name.
func (s *Source) Name() string { return s.spec.Name }

// Dir is the absolute folder watched.
func (s *Source) Dir() string { return s.dir }

// Notify fires when files may have appeared or grown (nil when not watching).
func (s *Source) Notify() <-chan struct{} {
	return s.notify // fed by fsnotify and by the settle timer of not-yet-ready files
}

// Ping checks that the folder is there and readable.
func (s *Source) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	st, err := os.Stat(s.dir)
	if err != nil {
		return fmt.Errorf("dirsrc %s: stat %s: %w", s.spec.Name, s.dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("dirsrc %s: %s is not a directory", s.spec.Name, s.dir)
	}
	f, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("dirsrc %s: open %s: %w", s.spec.Name, s.dir, err)
	}
	return f.Close()
}

func (s *Source) matches(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false // hidden and partial files (.name.tmp) are never drops
	}
	if len(s.spec.Include) > 0 {
		ok := false
		for _, g := range s.spec.Include {
			if m, _ := filepath.Match(g, name); m {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, g := range s.spec.Exclude {
		if m, _ := filepath.Match(g, name); m {
			return false
		}
	}
	return true
}

// List returns the regular files directly in the folder that are ready.
// Files not yet ready are remembered and a re-look is scheduled on Notify.
func (s *Source) List(ctx context.Context) ([]source.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("dirsrc %s: read %s: %w", s.spec.Name, s.dir, err)
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := make(map[string]bool, len(ents))
	var out []source.File
	var wait time.Duration = -1
	for _, de := range ents {
		if !de.Type().IsRegular() || !s.matches(de.Name()) {
			continue
		}
		path := filepath.Join(s.dir, de.Name())
		info, err := de.Info()
		if err != nil {
			continue // gone since ReadDir
		}
		seen[path] = true
		cur := look{size: info.Size(), mtime: info.ModTime()}
		prev, had := s.looks[path]
		cur.ready = had && prev.size == cur.size && prev.mtime.Equal(cur.mtime)
		s.looks[path] = cur
		age := now.Sub(cur.mtime)
		switch {
		case !cur.ready:
			wait = minWait(wait, settleDelay(s.spec.MinAge-age))
		case age < s.spec.MinAge:
			wait = minWait(wait, settleDelay(s.spec.MinAge-age))
		default:
			out = append(out, source.File{Source: s.spec.Name, Path: path, Size: cur.size, ModTime: cur.mtime})
		}
	}
	for p := range s.looks {
		if !seen[p] {
			delete(s.looks, p)
		}
	}
	if wait >= 0 {
		s.scheduleLocked(wait)
	}
	return out, nil
}

// settleDelay is when to look again at a file that is not ready yet.
func settleDelay(untilOld time.Duration) time.Duration {
	const minLook = 200 * time.Millisecond
	if untilOld < minLook {
		return minLook
	}
	return untilOld
}

func minWait(a, b time.Duration) time.Duration {
	if a < 0 || b < a {
		return b
	}
	return a
}

func (s *Source) scheduleLocked(d time.Duration) {
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timer = time.AfterFunc(d, s.poke)
}

// Open opens a listed file. The returned value is an *os.File, so the ingest
// can hash it and seek back instead of spooling a copy.
func (s *Source) Open(ctx context.Context, f source.File) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fh, err := os.Open(f.Path)
	if err != nil {
		return nil, fmt.Errorf("dirsrc %s: open %s: %w", s.spec.Name, f.Path, err)
	}
	return fh, nil
}

// Finish applies the after-action to a file the ingest is done with.
func (s *Source) Finish(ctx context.Context, f source.File) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.looks, f.Path)
	s.mu.Unlock()
	switch s.after.Kind {
	case "leave":
		return nil
	case "delete":
		if err := os.Remove(f.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("dirsrc %s: delete %s: %w", s.spec.Name, f.Path, err)
		}
		return nil
	case "move":
		return s.move(f.Path)
	}
	return fmt.Errorf("dirsrc %s: unknown after-action %q", s.spec.Name, s.after.Kind)
}

func (s *Source) move(path string) error {
	if err := os.MkdirAll(s.after.Dir, 0o750); err != nil {
		return fmt.Errorf("dirsrc %s: create %s: %w", s.spec.Name, s.after.Dir, err)
	}
	dst := filepath.Join(s.after.Dir, filepath.Base(path))
	if _, err := os.Lstat(dst); err == nil {
		// Never overwrite an earlier drop of the same name.
		ext := filepath.Ext(dst)
		dst = strings.TrimSuffix(dst, ext) + "." + s.now().UTC().Format("20060102T150405.000000000") + ext
	}
	err := os.Rename(path, dst)
	if errors.Is(err, syscall.EXDEV) {
		err = copyThenRemove(path, dst)
	}
	if err != nil {
		return fmt.Errorf("dirsrc %s: move %s to %s: %w", s.spec.Name, path, dst, err)
	}
	return nil
}

func copyThenRemove(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".part"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	return os.Remove(src)
}

// Close stops the watcher.
func (s *Source) Close() error {
	s.mu.Lock()
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()
	select {
	case <-s.stop:
		return nil
	default:
		close(s.stop)
	}
	var err error
	if s.watcher != nil {
		err = s.watcher.Close()
	}
	s.wg.Wait()
	return err
}

var _ source.Source = (*Source)(nil)
