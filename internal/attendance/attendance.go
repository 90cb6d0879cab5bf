// Package attendance holds the domain types every stage shares: the normalized
// punch event, the reject record, the daily record and the employee.
//
// It does no I/O and imports nothing but the standard library and a hash, so parsers,
// adapters (Kafka, ClickHouse, FTP, Daou) and commands can all depend on it and
// it never depends on them. The JSON field names are the wire contract published
// in schemas/punch-event.v1.json; changing one is a schema version bump.
package attendance

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"

	"github.com/zeebo/xxh3"
)

// SchemaVersion is the version of the punch event JSON schema (schemas/punch-event.v1.json).
const SchemaVersion = 1

// Mode is what a punch means for attendance. Vendors pick it on the terminal
// (a function key), it is not the door direction.
type Mode string

const (
	ModeIn      Mode = "in"
	ModeOut     Mode = "out"
	ModePass    Mode = "pass"   // plain door pass (출입), no attendance meaning by itself
	ModeOuting  Mode = "outing" // 외출
	ModeReturn  Mode = "return" // 복귀
	ModeUnknown Mode = "unknown"
)

// Valid reports whether m is one of the six modes of the schema.
func (m Mode) Valid() bool {
	switch m {
	case ModeIn, ModeOut, ModePass, ModeOuting, ModeReturn, ModeUnknown:
		return true
	}
	return false
}

// Punch is one normalized access-control event. OccurredAt carries the site's
// offset, so it marshals as RFC 3339 with that offset (2024-01-05T08:51:02+09:00).
type Punch struct {
	EventID    string    `json:"event_id"`
	Vendor     string    `json:"vendor"`
	Layout     string    `json:"layout"`
	Site       string    `json:"site"`
	OccurredAt time.Time `json:"occurred_at"`
	EmployeeNo string    `json:"employee_no"`
	Name       string    `json:"name"`
	CardMasked string    `json:"card_masked"`
	// CardHash is HMAC-SHA256(site card key, normalized card) in hex, set only when
	// the site has a card key. It lets the matcher fall back to cards without the
	// raw number ever leaving the parser.
	CardHash   string `json:"card_hash,omitempty"`
	Mode       Mode   `json:"mode"`
	RawMode    string `json:"raw_mode"`
	Device     string `json:"device"`
	AuthOK     bool   `json:"auth_ok"`
	SourceFile string `json:"source_file"`
	SourceLine int    `json:"source_line"`
}

// PartitionKey is the Kafka message key: site + employee number, or the card
// (hash, else masked) when there is no employee number, so that one person's
// punches stay in order on one partition.
func (p *Punch) PartitionKey() string {
	switch {
	case p.EmployeeNo != "":
		return p.Site + "/" + p.EmployeeNo
	case p.CardHash != "":
		return p.Site + "/card:" + p.CardHash
	default:
		return p.Site + "/card:" + p.CardMasked
	}
}

// EventID is the content-based identity of a punch: the same punch delivered
// twice, in one file or in two files (of any layout that carries the same
// fields), gets the same id; punches that differ in any identifying field get
// different ids. The file name, line and the person's name are deliberately not
// part of it (re-drops move lines; card-only rows have no name). The raw card is
// hashed in, never stored. Fields are length-prefixed so no two field tuples
// produce the same input. The hash is XXH3-128: the id needs collision
// resistance among honest inputs, not against an attacker (whoever can write a
// drop can forge any punch anyway), and SHA-256 was a third of the cost of
// parsing a caps-event-txt row.
func EventID(site, vendor string, at time.Time, employeeNo, card string, mode Mode, rawMode, device string, authOK bool) string {
	var id [32]byte
	return string(AppendEventID(id[:0], site, vendor, at, employeeNo, card, mode, rawMode, device, authOK))
}

// AppendEventID appends the 32 hex digits of EventID to dst, for callers that
// place the id in memory of their own (parsers, once per row).
func AppendEventID(dst []byte, site, vendor string, at time.Time, employeeNo, card string, mode Mode, rawMode, device string, authOK bool) []byte {
	var buf [256]byte
	var b []byte
	if n := 7*4 + 8 + 1 + len(site) + len(vendor) + len(employeeNo) + len(card) + len(mode) + len(rawMode) + len(device); n <= len(buf) {
		// Every real row: written in place (appends check capacity per field).
		i := putField(buf[:], 0, site)
		i = putField(buf[:], i, vendor)
		binary.BigEndian.PutUint64(buf[i:], uint64(at.Unix()))
		i = putField(buf[:], i+8, employeeNo)
		i = putField(buf[:], i, card)
		i = putField(buf[:], i, string(mode))
		i = putField(buf[:], i, rawMode)
		i = putField(buf[:], i, device)
		if authOK {
			buf[i] = 1
		}
		b = buf[:i+1]
	} else {
		b = appendField(nil, site)
		b = appendField(b, vendor)
		b = binary.BigEndian.AppendUint64(b, uint64(at.Unix()))
		b = appendField(b, employeeNo)
		b = appendField(b, card)
		b = appendField(b, string(mode))
		b = appendField(b, rawMode)
		b = appendField(b, device)
		if authOK {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	sum := xxh3.Hash128(b).Bytes()
	var id [32]byte
	for i, c := range sum {
		id[2*i], id[2*i+1] = hexDigits[c>>4], hexDigits[c&0x0F]
	}
	return append(dst, id[:]...)
}

// putField writes s with its length at b[i:] and returns the end.
func putField(b []byte, i int, s string) int {
	binary.BigEndian.PutUint32(b[i:], uint32(len(s)))
	return i + 4 + copy(b[i+4:], s)
}

const hexDigits = "0123456789abcdef"

// appendField appends s with its length, so fields cannot run into each other.
func appendField(b []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint32(b, uint32(len(s))), s...)
}

// MaskCard keeps only the last 4 characters of a card number; the rest become '*'.
func MaskCard(card string) string {
	if len(card) <= 4 {
		return card
	}
	if ascii(card) { // every real card number: one allocation
		var b strings.Builder
		b.Grow(len(card))
		for range len(card) - 4 {
			b.WriteByte('*')
		}
		b.WriteString(card[len(card)-4:])
		return b.String()
	}
	r := []rune(card)
	if len(r) <= 4 {
		return card
	}
	return strings.Repeat("*", len(r)-4) + string(r[len(r)-4:])
}

// Reject is a row that could not become a punch. Raw is the row as read, with
// any card number masked. Line is the 1-based physical line (for XML, the
// 1-based record index).
type Reject struct {
	RejectID string `json:"reject_id"`
	Vendor   string `json:"vendor"`
	Layout   string `json:"layout"`
	Site     string `json:"site"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Reason   string `json:"reason"`
	Raw      string `json:"raw"`
}

// RejectID identifies a reject by where it was read and what it said, so a
// re-read of the same file yields the same ids.
func RejectID(site, file string, line int, raw string) string {
	sum := sha256.Sum256([]byte(site + "\x00" + file + "\x00" + itoa(line) + "\x00" + raw))
	return hex.EncodeToString(sum[:16])
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// Daily record flags.
const (
	FlagMissingIn  = "missing_in"
	FlagMissingOut = "missing_out"
)

// DailyRecord is one person's working day as pushed to the groupware: the
// day's first clock-in and last clock-out (nil when absent), with flags.
type DailyRecord struct {
	Site       string     `json:"site,omitempty"`
	EmployeeNo string     `json:"employee_no"`
	WorkingDay string     `json:"working_day"` // YYYY-MM-DD, the local calendar date the shift started
	ClockIn    *time.Time `json:"clock_in"`
	ClockOut   *time.Time `json:"clock_out"`
	Flags      []string   `json:"flags"`
}

// Employee is a groupware account as the directory knows it.
type Employee struct {
	EmployeeNo  string   `json:"employee_no"` // Daou employeeNumber (인식번호): the push key
	LoginID     string   `json:"login_id"`
	Name        string   `json:"name"`
	Status      string   `json:"status,omitempty"`       // as the directory reports it; never interpreted by guessing
	ExpiredDate string   `json:"expired_date,omitempty"` // YYYY-MM-DD; on or before today = left
	CardHashes  []string `json:"card_hashes,omitempty"`  // HMAC of card numbers, never raw cards
	Aliases     []string `json:"aliases,omitempty"`      // other vendor numbers known for this person
}

// Match outcomes of a punch.
const (
	OutcomeMatched   = "matched"
	OutcomeAmbiguous = "ambiguous" // several candidates: never guessed
	OutcomeUnmatched = "unmatched"
)

// Unmatched is a punch whose person could not be resolved to exactly one
// groupware account. It goes to the unmatched topic and ClickHouse table.
type Unmatched struct {
	EventID    string    `json:"event_id"`
	Site       string    `json:"site"`
	Vendor     string    `json:"vendor"`
	EmployeeNo string    `json:"employee_no"` // the vendor's number as written
	Name       string    `json:"name"`
	CardMasked string    `json:"card_masked"`
	OccurredAt time.Time `json:"occurred_at"`
	Outcome    string    `json:"outcome"`              // OutcomeAmbiguous or OutcomeUnmatched
	Candidates []string  `json:"candidates,omitempty"` // employee numbers, for ambiguous
	Reason     string    `json:"reason"`
}

// File states in the ingest ledger and the files table.
const (
	FilePending     = "pending"
	FileDone        = "done"
	FileFailed      = "failed"
	FileQuarantined = "quarantined"
)

// FileRecord is what the ingest knows about one drop; published when a file
// reaches a final state so the history keeps what was ingested.
type FileRecord struct {
	Source   string    `json:"source"`
	Path     string    `json:"path"`
	Size     int64     `json:"size"`
	ModTime  time.Time `json:"mtime"`
	SHA256   string    `json:"sha256"`
	State    string    `json:"state"`
	Site     string    `json:"site"`
	Vendor   string    `json:"vendor"`
	Layout   string    `json:"layout"`
	Encoding string    `json:"encoding"`
	Punches  int       `json:"punches"`
	Rejects  int       `json:"rejects"`
	Reason   string    `json:"reason,omitempty"`
	At       time.Time `json:"at"`
}

// Push outcomes.
const (
	PushAccepted = "accepted" // 2xx from the groupware: in its middle DB
	PushRejected = "rejected" // the groupware refused this record (925/926): fix data, not retry
	PushFailed   = "failed"   // transport or server failure after retries
	PushSkipped  = "skipped"  // unchanged since the last accepted push
)

// PushResult is the outcome of one push of a daily record (push_log).
type PushResult struct {
	Site        string    `json:"site,omitempty"`
	EmployeeNo  string    `json:"employee_no"`
	WorkingDay  string    `json:"working_day"`
	ContentHash string    `json:"content_hash"`
	Payload     string    `json:"payload"` // the JSON body sent, credentials removed
	Outcome     string    `json:"outcome"`
	HTTPStatus  int       `json:"http_status"`
	Code        string    `json:"code"`
	Message     string    `json:"message"`
	Attempts    int       `json:"attempts"`
	At          time.Time `json:"at"`
}
