// Package ledger is the ingest's durable file ledger (bbolt in the state dir).
//
// Guarantee: every state change is fsynced to disk before the call returns, so
// after a crash the ledger says exactly which files were done (every event
// acknowledged), quarantined or failed, and which were pending (to resume).
// Files are known by content (SHA-256) and by (source, path): the same content
// dropped again under any name is skipped, and changed content under a known
// name is read again.
package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	bolt "go.etcd.io/bbolt"
)

var (
	bucketFiles = []byte("files") // sha256 -> Entry JSON
	bucketPaths = []byte("paths") // source \x00 path -> PathEntry JSON
)

// FileID is what identifies a file: where it is, what it looked like, what it holds.
type FileID struct {
	Source  string
	Path    string
	Size    int64
	ModTime time.Time
	SHA256  string
}

// Entry is the ledger's record of one content (keyed by SHA-256).
type Entry struct {
	Source    string    `json:"source"`
	Path      string    `json:"path"`
	Size      int64     `json:"size"`
	ModTime   time.Time `json:"mtime"`
	SHA256    string    `json:"sha256"`
	State     string    `json:"state"` // attendance.FilePending, FileDone, FileFailed, FileQuarantined
	Site      string    `json:"site,omitempty"`
	Vendor    string    `json:"vendor,omitempty"`
	Layout    string    `json:"layout,omitempty"`
	Encoding  string    `json:"encoding,omitempty"`
	Punches   int       `json:"punches"`
	Rejects   int       `json:"rejects"`
	Reason    string    `json:"reason,omitempty"`
	Attempts  int       `json:"attempts"`
	FirstSeen time.Time `json:"first_seen"`
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished,omitempty"`
}

// PathEntry is the last thing seen at a (source, path).
type PathEntry struct {
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
	SHA256  string    `json:"sha256"`
	Seen    time.Time `json:"seen"`
}

// Outcome is how a file ended, for Complete.
type Outcome struct {
	State    string // FileDone, FileFailed or FileQuarantined
	Site     string
	Vendor   string
	Layout   string
	Encoding string
	Punches  int
	Rejects  int
	Reason   string
}

// Decision is what the ingest should do with a file.
type Decision int

const (
	// Process: new content, changed content, or content whose earlier
	// attempt is pending (crash) or failed (transient error).
	Process Decision = iota
	// SkipDuplicate: this content is already done (under this or another
	// name); apply the after-action and go on.
	SkipDuplicate
	// SkipQuarantined: this content failed to parse before; leave it.
	SkipQuarantined
)

func (d Decision) String() string {
	switch d {
	case Process:
		return "process"
	case SkipDuplicate:
		return "skip-duplicate"
	case SkipQuarantined:
		return "skip-quarantined"
	}
	return fmt.Sprintf("decision(%d)", int(d))
}

// Ledger is the open ledger. Safe for concurrent use.
type Ledger struct {
	db  *bolt.DB
	now func() time.Time
}

// FileName is the ledger's file inside the state dir.
const FileName = "ledger.db"

// Open opens (creating if needed) the ledger in dir.
func Open(ctx context.Context, dir string) (*Ledger, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("ledger: create state dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o640, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketFiles, bucketPaths} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger: init %s: %w", path, err)
	}
	return &Ledger{db: db, now: time.Now}, nil
}

// Close closes the ledger file.
func (l *Ledger) Close() error { return l.db.Close() }

func pathKey(source, path string) []byte { return []byte(source + "\x00" + path) }

func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("decode %q: %w", key, err)
	}
	return true, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

// ByHash returns the entry for a content hash.
func (l *Ledger) ByHash(ctx context.Context, sha string) (Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, false, err
	}
	var e Entry
	var ok bool
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		ok, err = getJSON(tx.Bucket(bucketFiles), []byte(sha), &e)
		return err
	})
	if err != nil {
		return Entry{}, false, fmt.Errorf("ledger: look up sha256 %s: %w", sha, err)
	}
	return e, ok, nil
}

// ByPath returns what was last seen at (source, path).
func (l *Ledger) ByPath(ctx context.Context, source, path string) (PathEntry, bool, error) {
	if err := ctx.Err(); err != nil {
		return PathEntry{}, false, err
	}
	var p PathEntry
	var ok bool
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		ok, err = getJSON(tx.Bucket(bucketPaths), pathKey(source, path), &p)
		return err
	})
	if err != nil {
		return PathEntry{}, false, fmt.Errorf("ledger: look up %s:%s: %w", source, path, err)
	}
	return p, ok, nil
}

// Known reports, without hashing, whether (source, path) still holds content
// whose fate is settled: the size and mtime are those last seen there and that
// content is done or quarantined. A caller may then skip the file; anything
// else (new, changed size or mtime, pending, failed) must be hashed and Decided.
func (l *Ledger) Known(ctx context.Context, source, path string, size int64, mtime time.Time) (Entry, bool, error) {
	p, ok, err := l.ByPath(ctx, source, path)
	if err != nil || !ok || p.Size != size || !p.ModTime.Equal(mtime) {
		return Entry{}, false, err
	}
	e, ok, err := l.ByHash(ctx, p.SHA256)
	if err != nil || !ok {
		return Entry{}, false, err
	}
	if e.State == attendance.FileDone || e.State == attendance.FileQuarantined {
		return e, true, nil
	}
	return Entry{}, false, nil
}

// Decide records that f was seen and says what to do with it. For Process the
// content's entry is (re)written as pending with one more attempt, before the
// file is read, so a crash leaves it pending.
func (l *Ledger) Decide(ctx context.Context, f FileID) (Decision, Entry, error) {
	if err := ctx.Err(); err != nil {
		return 0, Entry{}, err
	}
	if f.SHA256 == "" {
		return 0, Entry{}, errors.New("ledger: decide: empty sha256")
	}
	now := l.now().UTC()
	var d Decision
	var out Entry
	err := l.db.Update(func(tx *bolt.Tx) error {
		files, paths := tx.Bucket(bucketFiles), tx.Bucket(bucketPaths)
		var prev PathEntry
		hadPrev, err := getJSON(paths, pathKey(f.Source, f.Path), &prev)
		if err != nil {
			return err
		}
		if hadPrev && prev.SHA256 != f.SHA256 {
			if err := supersede(files, prev.SHA256, f, now); err != nil {
				return err
			}
		}
		if err := putJSON(paths, pathKey(f.Source, f.Path), PathEntry{Size: f.Size, ModTime: f.ModTime, SHA256: f.SHA256, Seen: now}); err != nil {
			return err
		}
		var e Entry
		found, err := getJSON(files, []byte(f.SHA256), &e)
		if err != nil {
			return err
		}
		if found {
			switch e.State {
			case attendance.FileDone:
				d, out = SkipDuplicate, e
				return nil
			case attendance.FileQuarantined:
				d, out = SkipQuarantined, e
				return nil
			}
		} else {
			e = Entry{SHA256: f.SHA256, FirstSeen: now}
		}
		e.Source, e.Path, e.Size, e.ModTime = f.Source, f.Path, f.Size, f.ModTime
		e.State = attendance.FilePending
		e.Reason = ""
		e.Attempts++
		e.Started = now
		e.Finished = time.Time{}
		d, out = Process, e
		return putJSON(files, []byte(f.SHA256), e)
	})
	if err != nil {
		return 0, Entry{}, fmt.Errorf("ledger: decide %s:%s: %w", f.Source, f.Path, err)
	}
	return d, out, nil
}

// supersede settles the entry of content that was replaced at f's path
// before it was done: a pending one (its attempt was cut by a crash) would
// otherwise stay pending for ever, since that content is gone from the path.
// It becomes failed with the reason; done and quarantined entries stay.
func supersede(files *bolt.Bucket, oldSHA string, f FileID, now time.Time) error {
	var e Entry
	found, err := getJSON(files, []byte(oldSHA), &e)
	if err != nil || !found || e.State != attendance.FilePending || e.Source != f.Source || e.Path != f.Path {
		return err
	}
	e.State = attendance.FileFailed
	e.Reason = fmt.Sprintf("replaced at %s by content %s before it was done", f.Path, f.SHA256)
	e.Finished = now
	return putJSON(files, []byte(oldSHA), e)
}

// Complete moves a content's entry to its final state (done, failed or quarantined).
func (l *Ledger) Complete(ctx context.Context, sha string, o Outcome) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	switch o.State {
	case attendance.FileDone, attendance.FileFailed, attendance.FileQuarantined:
	default:
		return Entry{}, fmt.Errorf("ledger: complete %s: state %q is not done, failed or quarantined", sha, o.State)
	}
	var out Entry
	err := l.db.Update(func(tx *bolt.Tx) error {
		files := tx.Bucket(bucketFiles)
		var e Entry
		found, err := getJSON(files, []byte(sha), &e)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("no entry (Decide first)")
		}
		e.State, e.Reason = o.State, o.Reason
		e.Site, e.Vendor, e.Layout, e.Encoding = o.Site, o.Vendor, o.Layout, o.Encoding
		e.Punches, e.Rejects = o.Punches, o.Rejects
		e.Finished = l.now().UTC()
		out = e
		return putJSON(files, []byte(sha), e)
	})
	if err != nil {
		return Entry{}, fmt.Errorf("ledger: complete %s as %s: %w", sha, o.State, err)
	}
	return out, nil
}

// Pending returns the entries left pending (by a crash or a stop mid-file), to resume.
func (l *Ledger) Pending(ctx context.Context) ([]Entry, error) {
	return l.list(ctx, func(e Entry) bool { return e.State == attendance.FilePending })
}

// All returns every entry.
func (l *Ledger) All(ctx context.Context) ([]Entry, error) {
	return l.list(ctx, func(Entry) bool { return true })
}

// Counts returns how many entries are in each state.
func (l *Ledger) Counts(ctx context.Context) (map[string]int, error) {
	all, err := l.All(ctx)
	if err != nil {
		return nil, err
	}
	c := map[string]int{attendance.FilePending: 0, attendance.FileDone: 0, attendance.FileFailed: 0, attendance.FileQuarantined: 0}
	for _, e := range all {
		c[e.State]++
	}
	return c, nil
}

func (l *Ledger) list(ctx context.Context, keep func(Entry) bool) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Entry
	err := l.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFiles).ForEach(func(k, v []byte) error {
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode %q: %w", k, err)
			}
			if keep(e) {
				out = append(out, e)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: list: %w", err)
	}
	return out, nil
}
