package ftpsrc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/attendance-pipeline/attnd/internal/source"
	"github.com/jlaffaye/ftp"
)

// List returns the files of the drop folder (not its subfolders) that are
// ready, oldest first. A file needs two List calls to become ready.
func (s *Source) List(ctx context.Context) ([]source.File, error) {
	var (
		looks   map[string]look
		times   map[string]time.Time
		precise bool
	)
	ss, err := s.run(ctx, "list", func(ss *session) error {
		// CWD first: LIST of a missing folder is an empty listing on
		// some servers, which would hide a wrong path.
		if err := ss.c.ChangeDir(s.dir); err != nil {
			return fmt.Errorf("cwd %s: %w", s.dir, err)
		}
		entries, err := ss.c.List(s.dir)
		if err != nil {
			return fmt.Errorf("list %s: %w", s.dir, err)
		}
		precise = ss.c.IsTimePreciseInList()
		looks = make(map[string]look, len(entries))
		for _, e := range entries {
			if e.Type != ftp.EntryTypeFile {
				continue
			}
			name := path.Base(e.Name)
			if !matchGlobs(name, s.include, s.exclude) {
				continue
			}
			listed := e.Time.In(s.loc)
			if precise {
				// MLSD "modify" is UTC (RFC 3659), but the library parses
				// it in the location it uses for LIST: read the digits
				// back as UTC.
				t := e.Time
				listed = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC).In(s.loc)
			}
			looks[path.Join(s.dir, name)] = look{size: int64(e.Size), listed: listed}
		}
		times = map[string]time.Time{}
		if precise || !ss.c.IsGetTimeSupported() {
			return nil
		}
		s.mu.Lock()
		need := s.track.needTime(looks)
		s.mu.Unlock()
		sort.Strings(need)
		for _, p := range need {
			tm, err := ss.c.GetTime(p)
			switch {
			case permanent(err): // gone or not allowed: judge by the listing
				times[p] = time.Time{}
			case err != nil:
				return fmt.Errorf("mdtm %s: %w", p, err)
			default:
				times[p], _ = reconcile(tm, looks[p].listed, s.loc)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ftpsrc %s: %w", s.name, err)
	}
	s.release(ss, true)

	s.mu.Lock()
	ready, future := s.track.apply(s.opts.Now(), looks, times, precise)
	s.mu.Unlock()
	for _, p := range future {
		s.log.Warn("ftp file mtime is in the future: check the server clock and the source tz", "path", p, "tz", s.loc.String())
	}
	sort.Slice(ready, func(i, j int) bool {
		if !ready[i].modTime.Equal(ready[j].modTime) {
			return ready[i].modTime.Before(ready[j].modTime)
		}
		return ready[i].path < ready[j].path
	})
	out := make([]source.File, len(ready))
	for i, r := range ready {
		out[i] = source.File{Source: s.name, Path: r.path, Size: r.size, ModTime: r.modTime}
	}
	return out, nil
}

// Open streams f (RETR). The reader holds one pooled connection until it is
// closed. At EOF it checks the server's transfer-complete reply and that the
// byte count is the listed size (else ErrChanged). Reads fail when ctx ends.
func (s *Source) Open(ctx context.Context, f source.File) (io.ReadCloser, error) {
	var resp *ftp.Response
	ss, err := s.run(ctx, "retr", func(ss *session) error {
		r, err := ss.c.Retr(f.Path)
		if err != nil {
			return fmt.Errorf("retr %s: %w", f.Path, err)
		}
		resp = r
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ftpsrc %s: open: %w", s.name, err)
	}
	// The data connection goes through deadlineConn like the control one,
	// so every read of the transfer has the per-operation timeout (which
	// makes Response.SetDeadline redundant: it would be re-armed anyway).
	return &reader{s: s, ss: ss, resp: resp, unbind: ss.bind(ctx), file: f}, nil
}

type reader struct {
	s      *Source
	ss     *session
	resp   *ftp.Response
	unbind func()
	file   source.File
	n      int64
	done   bool  // EOF seen and checked
	err    error // sticky error
	closed bool
}

func (r *reader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, errors.New("read after close")
	}
	if r.err != nil {
		return 0, r.err
	}
	if r.done {
		return 0, io.EOF
	}
	n, err := r.resp.Read(p)
	r.n += int64(n)
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, io.EOF):
		// Confirm the transfer with the server (226, not 426) now, so
		// the caller never takes a cut-off stream for the whole file.
		if cerr := r.resp.Close(); cerr != nil {
			r.s.opts.OnError("read")
			r.err = fmt.Errorf("ftpsrc %s: read %s: transfer not confirmed: %w", r.s.name, r.file.Path, cerr)
			return n, r.err
		}
		if r.file.Size >= 0 && r.n != r.file.Size {
			r.err = fmt.Errorf("ftpsrc %s: read %s: %d bytes, listed %d: %w", r.s.name, r.file.Path, r.n, r.file.Size, ErrChanged)
			return n, r.err
		}
		r.done = true
		return n, io.EOF
	default:
		r.s.opts.OnError("read")
		r.err = fmt.Errorf("ftpsrc %s: read %s: %w", r.s.name, r.file.Path, err)
		return n, r.err
	}
}

// Close ends the transfer and gives the connection back (or discards it if
// the transfer did not end cleanly). Closing before EOF is not an error.
func (r *reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	healthy := r.done || (errors.Is(r.err, ErrChanged))
	if !r.done && r.err == nil {
		// Stopped early: the server answers 426 or similar; the
		// connection is not trusted afterwards.
		_ = r.resp.Close()
		healthy = false
	}
	r.unbind()
	r.s.release(r.ss, healthy)
	return nil
}

// Finish applies the after-action to f. It refuses with ErrChanged when the
// file on the server no longer has f's size (or, where MDTM is supported,
// f's mtime): a re-upload must not be moved or deleted unread.
func (s *Source) Finish(ctx context.Context, f source.File) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.after.kind == "leave" {
		return nil
	}
	op := s.after.kind
	tried := false // the action was sent in an earlier attempt (reply maybe lost)
	ss, err := s.run(ctx, op, func(ss *session) error {
		size, err := ss.c.FileSize(f.Path)
		if permanent(err) && tried {
			if s.after.kind == "delete" {
				return nil // deleted by the attempt whose reply was lost
			}
			if _, derr := ss.c.FileSize(path.Join(s.after.dir, path.Base(f.Path))); derr == nil {
				return nil // moved by the attempt whose reply was lost
			}
		}
		if err != nil {
			return fmt.Errorf("size %s: %w", f.Path, err)
		}
		if size != f.Size {
			return fmt.Errorf("%s is %d bytes, listed %d: %w", f.Path, size, f.Size, ErrChanged)
		}
		if ss.c.IsGetTimeSupported() {
			tm, err := ss.c.GetTime(f.Path)
			if err != nil {
				return fmt.Errorf("mdtm %s: %w", f.Path, err)
			}
			if !sameMTime(tm, f.ModTime, s.loc) {
				return fmt.Errorf("%s mtime %s, listed %s: %w", f.Path, tm.Format("20060102150405"), f.ModTime, ErrChanged)
			}
		}
		switch s.after.kind {
		case "delete":
			tried = true
			if err := ss.c.Delete(f.Path); err != nil {
				return fmt.Errorf("delete %s: %w", f.Path, err)
			}
		case "move":
			if err := s.ensureDir(ss, s.after.dir); err != nil {
				return err
			}
			dst := path.Join(s.after.dir, path.Base(f.Path))
			if _, err := ss.c.FileSize(dst); err == nil {
				// Keep the earlier done file (a re-upload of the same name).
				ext := path.Ext(dst)
				dst = strings.TrimSuffix(dst, ext) + "_" + f.ModTime.Format("20060102T150405") + ext
			}
			tried = true
			if err := ss.c.Rename(f.Path, dst); err != nil {
				return fmt.Errorf("rename %s to %s: %w", f.Path, dst, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ftpsrc %s: finish (%s): %w", s.name, op, err)
	}
	s.release(ss, true)
	s.log.Debug("ftp after-action done", "action", op, "path", f.Path)
	return nil
}

// ensureDir creates dir and its parents when missing (MKD), once per source.
func (s *Source) ensureDir(ss *session, dir string) error {
	s.mu.Lock()
	known := s.dirExists[dir]
	s.mu.Unlock()
	if known {
		return nil
	}
	if err := ss.c.ChangeDir(dir); err != nil {
		if !permanent(err) {
			return fmt.Errorf("cwd %s: %w", dir, err)
		}
		parts := strings.Split(strings.Trim(dir, "/"), "/")
		cur := "/"
		for _, p := range parts {
			cur = path.Join(cur, p)
			if err := ss.c.MakeDir(cur); err != nil && !permanent(err) {
				return fmt.Errorf("mkdir %s: %w", cur, err)
			} // 550 "exists" is fine; the check below tells.
		}
		if err := ss.c.ChangeDir(dir); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	}
	s.mu.Lock()
	s.dirExists[dir] = true
	s.mu.Unlock()
	return nil
}

// sameMTime reports whether an MDTM reply (parsed as UTC) matches want, in
// either reading of the reply's zone, to want's precision.
func sameMTime(mdtm, want time.Time, loc *time.Location) bool {
	got, ok := reconcile(mdtm, want, loc)
	return ok && (got.Equal(want) || listPrecision(want) > time.Second)
}

// Ping checks the server answers: NOOP on a pooled connection or a new one.
func (s *Source) Ping(ctx context.Context) error {
	ss, err := s.run(ctx, "noop", func(ss *session) error {
		if err := ss.c.NoOp(); err != nil {
			return fmt.Errorf("noop: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ftpsrc %s: ping: %w", s.name, err)
	}
	s.release(ss, true)
	return nil
}
