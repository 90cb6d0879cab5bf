package push

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

var (
	bucketAccepted = []byte("accepted")
	bucketInflight = []byte("inflight")
)

// Ledger is the durable push ledger (bbolt): for each (employee number,
// working day) the content hash last accepted by Daou, and an in-flight
// marker written and fsynced BEFORE a send. A marker that survives a crash
// means "Daou may hold this content"; the pusher resolves it before sending
// that key again.
type Ledger struct {
	db *bolt.DB
}

// Inflight is a send whose outcome is not known yet.
type Inflight struct {
	Hash   string                 `json:"hash"`
	Since  time.Time              `json:"since"` // first unresolved send of this content
	Record attendance.DailyRecord `json:"record"`
}

type acceptedEntry struct {
	Hash string    `json:"hash"`
	At   time.Time `json:"at"`
}

// OpenLedger opens (creating) the ledger file; it waits at most 10 s for
// another process's lock.
func OpenLedger(path string) (*Ledger, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("push: ledger dir: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("push: open ledger %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketAccepted, bucketInflight} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("push: init ledger: %w", err)
	}
	return &Ledger{db: db}, nil
}

// OpenLedgerReadOnly opens an existing ledger for reading only (dry runs); a
// missing file is an empty ledger.
func OpenLedgerReadOnly(path string) (*Ledger, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return &Ledger{}, nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 10 * time.Second, ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("push: open ledger %s: %w", path, err)
	}
	return &Ledger{db: db}, nil
}

// Close closes the ledger.
func (l *Ledger) Close() error {
	if l.db == nil {
		return nil
	}
	return l.db.Close()
}

// get reads one value; a missing ledger or bucket reads as nil.
func (l *Ledger) get(bucket, k []byte) ([]byte, error) {
	if l.db == nil {
		return nil, nil
	}
	var out []byte
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		if v := b.Get(k); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}

func key(emp, day string) []byte { return []byte(emp + "\x00" + day) }

// Accepted returns the last accepted content hash of a key.
func (l *Ledger) Accepted(emp, day string) (string, bool, error) {
	v, err := l.get(bucketAccepted, key(emp, day))
	if err != nil {
		return "", false, fmt.Errorf("push: ledger read: %w", err)
	}
	if v == nil {
		return "", false, nil
	}
	var e acceptedEntry
	if err := json.Unmarshal(v, &e); err != nil {
		return "", false, fmt.Errorf("push: ledger read: %w", err)
	}
	return e.Hash, true, nil
}

// InflightFor returns the in-flight marker of a key.
func (l *Ledger) InflightFor(emp, day string) (Inflight, bool, error) {
	v, err := l.get(bucketInflight, key(emp, day))
	if err != nil {
		return Inflight{}, false, fmt.Errorf("push: ledger read: %w", err)
	}
	if v == nil {
		return Inflight{}, false, nil
	}
	var in Inflight
	if err := json.Unmarshal(v, &in); err != nil {
		return Inflight{}, false, fmt.Errorf("push: ledger read: %w", err)
	}
	return in, true, nil
}

// MarkInflight durably records that hash is about to be sent for rec's key.
// An existing marker with the same hash keeps its Since.
func (l *Ledger) MarkInflight(rec attendance.DailyRecord, hash string, now time.Time) error {
	err := l.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketInflight)
		k := key(rec.EmployeeNo, rec.WorkingDay)
		in := Inflight{Hash: hash, Since: now.UTC(), Record: rec}
		if v := b.Get(k); v != nil {
			var old Inflight
			if json.Unmarshal(v, &old) == nil && old.Hash == hash {
				return nil
			}
		}
		v, err := json.Marshal(in)
		if err != nil {
			return err
		}
		return b.Put(k, v)
	})
	if err != nil {
		return fmt.Errorf("push: ledger in-flight: %w", err)
	}
	return nil
}

// MarkAccepted records hash as accepted and clears the in-flight marker, in one transaction.
func (l *Ledger) MarkAccepted(emp, day, hash string, now time.Time) error {
	err := l.db.Update(func(tx *bolt.Tx) error {
		v, err := json.Marshal(acceptedEntry{Hash: hash, At: now.UTC()})
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketAccepted).Put(key(emp, day), v); err != nil {
			return err
		}
		return tx.Bucket(bucketInflight).Delete(key(emp, day))
	})
	if err != nil {
		return fmt.Errorf("push: ledger accept: %w", err)
	}
	return nil
}

// ClearInflight removes the in-flight marker (the server certainly did not store it).
func (l *Ledger) ClearInflight(emp, day string) error {
	err := l.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketInflight).Delete(key(emp, day)) })
	if err != nil {
		return fmt.Errorf("push: ledger clear: %w", err)
	}
	return nil
}

// Pending lists every in-flight marker.
func (l *Ledger) Pending() ([]Inflight, error) {
	var out []Inflight
	if l.db == nil {
		return nil, nil
	}
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketInflight)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var in Inflight
			if err := json.Unmarshal(v, &in); err != nil {
				return errors.New("corrupt in-flight entry")
			}
			out = append(out, in)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("push: ledger pending: %w", err)
	}
	return out, nil
}
