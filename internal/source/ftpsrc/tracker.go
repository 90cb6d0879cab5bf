package ftpsrc

import (
	"path"
	"strings"
	"time"
)

// look is what one listing says about a file.
type look struct {
	size   int64
	listed time.Time // listing time in the site's zone (minute precision for LIST)
}

func (a look) same(b look) bool { return a.size == b.size && a.listed.Equal(b.listed) }

// fileState is what the tracker remembers about a path between polls.
type fileState struct {
	look
	firstSeen time.Time // when this look was first seen
	polls     int       // consecutive polls that saw this look
	mtime     time.Time // precise mtime when resolved (MLSD or MDTM), else zero
	timeTried bool      // MDTM was asked for this look
}

// tracker decides readiness: the same size and mtime in two consecutive polls
// and an mtime at least minAge old (or unchanged for fallback).
// It is not safe for concurrent use; the Source guards it.
type tracker struct {
	minAge   time.Duration
	fallback time.Duration // <= 0: off
	states   map[string]*fileState
}

func newTracker(minAge, fallback time.Duration) *tracker {
	return &tracker{minAge: minAge, fallback: fallback, states: map[string]*fileState{}}
}

// needTime returns the paths whose look is the same as in the previous poll
// (candidates) and whose precise mtime is not known yet.
func (t *tracker) needTime(looks map[string]look) []string {
	var out []string
	for p, lk := range looks {
		if st := t.states[p]; st != nil && st.look.same(lk) && !st.timeTried {
			out = append(out, p)
		}
	}
	return out
}

type readyFile struct {
	path    string
	size    int64
	modTime time.Time
}

// apply records a poll and returns the ready files. times holds MDTM results
// for needTime's paths (zero time: asked but not usable); precise says the
// listing itself has second precision (MLSD). future lists files first seen
// with an mtime in the future (a server clock or zone that is off).
func (t *tracker) apply(now time.Time, looks map[string]look, times map[string]time.Time, precise bool) (ready []readyFile, future []string) {
	next := make(map[string]*fileState, len(looks))
	for p, lk := range looks {
		st := t.states[p]
		if st != nil && st.look.same(lk) {
			st.polls++
		} else {
			st = &fileState{look: lk, firstSeen: now, polls: 1}
		}
		if precise {
			st.mtime, st.timeTried = lk.listed, true
		} else if tm, ok := times[p]; ok && !st.timeTried {
			st.mtime, st.timeTried = tm, true
		}
		next[p] = st
		if st.polls == 1 && lk.listed.Sub(now) > time.Minute {
			future = append(future, p)
		}
		if st.polls < 2 {
			continue
		}
		modTime := st.mtime
		newest := st.mtime // the latest the file can have been written
		if modTime.IsZero() {
			modTime = lk.listed
			newest = lk.listed.Add(listPrecision(lk.listed))
		}
		oldEnough := now.Sub(newest) >= t.minAge
		seenLong := t.fallback > 0 && now.Sub(st.firstSeen) >= t.fallback
		if oldEnough || seenLong {
			ready = append(ready, readyFile{path: p, size: lk.size, modTime: modTime})
		}
	}
	t.states = next
	return ready, future
}

// listPrecision is how coarse an ls-style listing time can be: a minute
// ("Jan  5 12:34"), or a day for old files ("Jan  5  2023", parsed as midnight).
func listPrecision(listed time.Time) time.Duration {
	if listed.Hour() == 0 && listed.Minute() == 0 && listed.Second() == 0 {
		return 24 * time.Hour
	}
	if listed.Second() == 0 && listed.Nanosecond() == 0 {
		return time.Minute
	}
	return time.Second
}

// reconcile turns an MDTM reply (parsed by the library as UTC) into the file's
// mtime. RFC 3659 says MDTM is UTC, but servers such as vsftpd with
// use_localtime answer in local time; the interpretation that agrees with the
// listing time (itself in the site's zone) wins. ok is false if neither does.
func reconcile(mdtm, listed time.Time, loc *time.Location) (time.Time, bool) {
	asUTC := mdtm.In(loc)
	asLocal := time.Date(mdtm.Year(), mdtm.Month(), mdtm.Day(), mdtm.Hour(), mdtm.Minute(), mdtm.Second(), mdtm.Nanosecond(), loc)
	prec := listPrecision(listed)
	for _, c := range []time.Time{asLocal, asUTC} {
		if d := c.Sub(listed); d >= 0 && d < prec {
			return c, true
		}
	}
	return time.Time{}, false
}

// matchGlobs applies the include/exclude globs to a base name; hidden names
// (".name", often a partial upload) are never drops.
func matchGlobs(name string, include, exclude []string) bool {
	if name == "" || strings.HasPrefix(name, ".") {
		return false
	}
	if len(include) > 0 {
		ok := false
		for _, g := range include {
			if m, _ := path.Match(g, name); m {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, g := range exclude {
		if m, _ := path.Match(g, name); m {
			return false
		}
	}
	return true
}
