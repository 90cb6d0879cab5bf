package match

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

// CacheFile is the name of the directory's last good copy in the state dir.
const CacheFile = "directory.json"

// cacheDoc is the on-disk form of the last good copy.
type cacheDoc struct {
	Version   int                   `json:"version"`
	FetchedAt time.Time             `json:"fetched_at"`
	Sources   []string              `json:"sources"`
	Employees []attendance.Employee `json:"employees"`
}

// Status says where the directory being served comes from.
type Status struct {
	Source    string    // "live" (just fetched), "cache" (disk copy, providers down) or "" (nothing loaded)
	FetchedAt time.Time // when the served copy was fetched from the providers
	Employees int
	LastError string // the last refresh failure, "" after a success
}

// Stale reports whether the served copy is the disk copy because the last
// refresh failed.
func (s Status) Stale() bool { return s.Source == "cache" }

// Directory merges its providers into one account list, keeps the last good
// copy on disk (JSON, written to a temp file and renamed into place) and
// serves that copy, with its age, when a provider is down — including after
// a restart. A refresh is good only when every provider answers and the
// merge is not empty: an empty list never replaces a good copy.
type Directory struct {
	stateDir  string
	providers []Provider
	every     time.Duration
	log       *slog.Logger
	now       func() time.Time

	mu     sync.Mutex
	status Status
	digest string // of the list last handed out
}

// NewDirectory builds a directory over providers, listed by priority: for an
// employee number several providers know, the first non-empty login id,
// name, status and expiredDate win, and card hashes and aliases are merged.
// every is the refresh period of Run (default 1h).
func NewDirectory(stateDir string, providers []Provider, every time.Duration, log *slog.Logger) *Directory {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if every <= 0 {
		every = time.Hour
	}
	return &Directory{stateDir: stateDir, providers: append([]Provider(nil), providers...), every: every, log: log, now: time.Now}
}

// Status is the current state of the served copy.
func (d *Directory) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.status
}

// Load refreshes from the providers now and saves the result; when that
// fails it serves the disk copy (Status().Stale() is then true). It fails
// only when the providers fail and there is no readable disk copy.
func (d *Directory) Load(ctx context.Context) ([]attendance.Employee, error) {
	emps, _, err := d.load(ctx)
	return emps, err
}

func (d *Directory) load(ctx context.Context) ([]attendance.Employee, bool, error) {
	emps, ferr := d.fetch(ctx)
	if ferr == nil {
		doc := cacheDoc{Version: 1, FetchedAt: d.now().UTC(), Sources: d.names(), Employees: emps}
		if err := d.save(doc); err != nil {
			// The live copy is still good; the next refresh tries the disk again.
			d.log.Error("match: directory: cannot save the last good copy", "dir", d.stateDir, "err", err)
		}
		d.log.Info("match: directory refreshed", "employees", len(emps), "sources", strings.Join(doc.Sources, ", "))
		return emps, d.serve(Status{Source: "live", FetchedAt: doc.FetchedAt, Employees: len(emps)}, emps), nil
	}
	if ctx.Err() != nil {
		return nil, false, ctx.Err()
	}
	doc, cerr := d.read()
	if cerr != nil {
		d.mu.Lock()
		d.status.LastError = ferr.Error()
		d.mu.Unlock()
		return nil, false, fmt.Errorf("match: directory unavailable (%w) and no cached copy: %w", ferr, cerr)
	}
	age := d.now().Sub(doc.FetchedAt).Round(time.Second)
	d.log.Warn("match: directory providers failed, serving the cached copy", "err", ferr, "fetched_at", doc.FetchedAt, "age", age.String(), "employees", len(doc.Employees))
	st := Status{Source: "cache", FetchedAt: doc.FetchedAt, Employees: len(doc.Employees), LastError: ferr.Error()}
	return doc.Employees, d.serve(st, doc.Employees), nil
}

// serve records what is handed out and reports whether its content differs
// from the previous list.
func (d *Directory) serve(st Status, emps []attendance.Employee) bool {
	sum := digest(emps)
	d.mu.Lock()
	defer d.mu.Unlock()
	changed := sum != d.digest
	d.digest, d.status = sum, st
	return changed
}

// Run refreshes every period until ctx ends and calls onChange with the new
// list whenever its content changed (the first time too, when Load was not
// called before). A failed refresh is logged and keeps the list in use. It
// returns nil when ctx ends, or an error when nothing could ever be loaded
// for the first call.
func (d *Directory) Run(ctx context.Context, onChange func([]attendance.Employee)) error {
	d.mu.Lock()
	first := d.digest == ""
	d.mu.Unlock()
	if first {
		emps, _, err := d.load(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if onChange != nil {
			onChange(emps)
		}
	}
	t := time.NewTicker(d.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		emps, changed, err := d.load(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil:
			// Only when the disk copy vanished as well; the list in use stays.
			d.log.Error("match: directory refresh failed, keeping the list in use", "err", err)
		case changed && onChange != nil:
			onChange(emps)
		}
	}
}

func (d *Directory) names() []string {
	n := make([]string, len(d.providers))
	for i, p := range d.providers {
		n[i] = p.Name()
	}
	return n
}

// fetch asks every provider and merges; any failure fails the refresh.
func (d *Directory) fetch(ctx context.Context) ([]attendance.Employee, error) {
	if len(d.providers) == 0 {
		return nil, errors.New("no directory providers configured")
	}
	lists := make([][]attendance.Employee, 0, len(d.providers))
	for _, p := range d.providers {
		emps, err := p.Employees(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Name(), err)
		}
		lists = append(lists, emps)
	}
	merged := Merge(lists...)
	if len(merged) == 0 {
		return nil, errors.New("providers returned no employees")
	}
	return merged, nil
}

// Merge combines provider lists by priority (see NewDirectory). Within one
// list duplicate employee numbers are kept (the matcher reports them as
// ambiguous); a later list's account merges into earlier accounts with the
// same employee number whose login id equals it or is empty on either side,
// and is added as another account otherwise. The result is sorted by
// employee number and login id.
func Merge(lists ...[]attendance.Employee) []attendance.Employee {
	var out []attendance.Employee
	byNo := map[string][]int{}
	for li, list := range lists {
		added := map[string][]int{}
		for _, e := range list {
			e.EmployeeNo = strings.TrimSpace(e.EmployeeNo)
			if e.EmployeeNo == "" {
				continue
			}
			merged := false
			if li > 0 {
				for _, i := range byNo[e.EmployeeNo] {
					o := &out[i]
					if o.LoginID != "" && e.LoginID != "" && o.LoginID != e.LoginID {
						continue
					}
					o.LoginID = first(o.LoginID, e.LoginID)
					o.Name = first(o.Name, e.Name)
					o.Status = first(o.Status, e.Status)
					o.ExpiredDate = first(o.ExpiredDate, e.ExpiredDate)
					o.CardHashes = unionStrings(o.CardHashes, e.CardHashes)
					o.Aliases = unionStrings(o.Aliases, e.Aliases)
					merged = true
				}
			}
			if !merged {
				e.CardHashes = unionStrings(nil, e.CardHashes)
				e.Aliases = unionStrings(nil, e.Aliases)
				out = append(out, e)
				added[e.EmployeeNo] = append(added[e.EmployeeNo], len(out)-1)
			}
		}
		for no, idx := range added {
			byNo[no] = append(byNo[no], idx...)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].EmployeeNo != out[j].EmployeeNo {
			return out[i].EmployeeNo < out[j].EmployeeNo
		}
		return out[i].LoginID < out[j].LoginID
	})
	return out
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func unionStrings(a, b []string) []string {
	seen := make(map[string]bool, len(a)+len(b))
	var out []string
	for _, s := range append(append([]string(nil), a...), b...) {
		if s = strings.TrimSpace(s); s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func digest(emps []attendance.Employee) string {
	b, _ := json.Marshal(emps)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (d *Directory) path() string { return filepath.Join(d.stateDir, CacheFile) }

// save writes the copy to a temp file in the state dir, syncs it and renames
// it over the old copy, so a crash leaves either the old or the new file.
func (d *Directory) save(doc cacheDoc) error {
	if err := os.MkdirAll(d.stateDir, 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(d.stateDir, "."+CacheFile+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, d.path()); err != nil {
		return err
	}
	if dir, err := os.Open(d.stateDir); err == nil {
		_ = dir.Sync() // best effort: make the rename durable
		dir.Close()
	}
	return nil
}

func (d *Directory) read() (cacheDoc, error) {
	var doc cacheDoc
	b, err := os.ReadFile(d.path())
	if err != nil {
		return doc, err
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return doc, fmt.Errorf("%s: %w", d.path(), err)
	}
	if doc.Version != 1 || len(doc.Employees) == 0 {
		return doc, fmt.Errorf("%s: not a usable directory copy (version %d, %d employees)", d.path(), doc.Version, len(doc.Employees))
	}
	return doc, nil
}
