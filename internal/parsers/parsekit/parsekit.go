// Package parsekit is what every vendor parser shares: the options a site
// passes in, the emitter events and rejects go to, the layout descriptor the
// registry detects, a bounded line reader, the Korean timestamp shapes and the
// punch builder that masks cards and derives event ids.
//
// Guarantee: nothing here does I/O beyond reading the io.Reader it is given;
// parsers built on it are pure (bytes in, events and rejects out).
package parsekit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"
	"unsafe"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

// Limits that protect against garbage input. A line or field over the limit
// becomes a reject; the file goes on.
const (
	DefaultMaxLineBytes  = 64 << 10
	DefaultMaxFieldBytes = 1 << 10
)

// Codes are a site's vendor code tables. They are configuration (sites differ,
// vendor products differ); DefaultCodes holds the documented defaults of the
// layout contract (shared/docs/vendor-exports.md §6).
type Codes struct {
	CapsEventModes    map[string]attendance.Mode `yaml:"caps_event_modes" json:"caps_event_modes"`       // caps-event-txt 근태내역
	CapsTenterModes   map[string]attendance.Mode `yaml:"caps_tenter_modes" json:"caps_tenter_modes"`     // tenter E_MODE
	CapsTenterSuccess []string                   `yaml:"caps_tenter_success" json:"caps_tenter_success"` // E_RESULT values meaning success
	SecomFlag1Modes   map[string]attendance.Mode `yaml:"secom_flag1_modes" json:"secom_flag1_modes"`     // Flag1; anything else is SecomDefaultMode
	SecomDefaultMode  attendance.Mode            `yaml:"secom_default_mode" json:"secom_default_mode"`
	TelecopModes      map[string]attendance.Mode `yaml:"telecop_modes" json:"telecop_modes"`     // str_Mode / 인증모드 words
	TelecopSuccess    []string                   `yaml:"telecop_success" json:"telecop_success"` // str_ValidationStatus success words
}

// DefaultCodes returns a fresh copy of the contract's code tables.
func DefaultCodes() Codes {
	return Codes{
		CapsEventModes:    map[string]attendance.Mode{"1": attendance.ModeIn, "2": attendance.ModeOut, "5": attendance.ModePass},
		CapsTenterModes:   map[string]attendance.Mode{"1": attendance.ModeIn, "2": attendance.ModeOut, "3": attendance.ModeOuting, "4": attendance.ModeReturn},
		CapsTenterSuccess: []string{"0"},
		SecomFlag1Modes:   map[string]attendance.Mode{"1": attendance.ModeIn, "4": attendance.ModeOut},
		SecomDefaultMode:  attendance.ModePass,
		TelecopModes:      map[string]attendance.Mode{"출근": attendance.ModeIn, "퇴근": attendance.ModeOut, "출입": attendance.ModePass},
		TelecopSuccess:    []string{"성공"},
	}
}

// Options are what a site passes to a parser for one file.
type Options struct {
	Site     string
	Location *time.Location // the site's zone; vendor times are naive wall-clock in it
	File     string         // source_file of every event and reject
	Codes    Codes
	CardKey  []byte // HMAC key for card_hash; nil leaves card_hash empty

	MaxLineBytes  int // 0 = DefaultMaxLineBytes
	MaxFieldBytes int // 0 = DefaultMaxFieldBytes

	cards *cardCache // per parse (WithDefaults resets it): masked and hashed cards
	text  *arena     // per parse: the strings of punches
}

// arena hands out strings copied into shared chunks: one allocation per
// chunk instead of one or two per row (the line's text and the event id),
// which were a quarter of a caps-event-txt row. A chunk lives as long as any
// of its strings; the emitter keeps punches only until they are published,
// so memory stays bounded.
type arena struct{ buf []byte }

const arenaChunk = 16 << 10

// reserve returns n bytes of fresh chunk space (len 0, cap n) to append to;
// text finishes them as a string.
func (a *arena) reserve(n int) []byte {
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, max(arenaChunk, n))
	}
	return a.buf[len(a.buf) : len(a.buf) : len(a.buf)+n]
}

// text returns b, filled from reserve, as a string and moves past it. The
// bytes are never written again, so the string stays immutable.
func (a *arena) text(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	a.buf = a.buf[:len(a.buf)+len(b)]
	return unsafe.String(&b[0], len(b))
}

// String copies b into the parse's string arena: for parsers that cut a
// punch's fields out of a line they read as bytes.
func (o *Options) String(b []byte) string {
	if o.text == nil {
		o.text = &arena{}
	}
	return o.text.text(append(o.text.reserve(len(b)), b...))
}

// cardCache remembers the masked form and keyed hash of the cards of one
// parse: a file holds the same few hundred cards many times, and the HMAC
// is the largest cost of a row. Bounded, so memory stays flat.
type cardCache struct {
	mac      hash.Hash // HMAC-SHA256 with the site's key; Reset restores the keyed state
	sum      [sha256.Size]byte
	cur, old cardGen // two generations: a full current one becomes the old one
}

// cardGen is one generation of the cache: cards of up to 17 digits packed
// into a uint64 key (most cards; the fastest map path), others by string.
type cardGen struct {
	numbers map[uint64]cardForms
	others  map[string]cardForms
}

func (g *cardGen) get(num uint64, isNum bool, card string) (cardForms, bool) {
	if isNum {
		f, ok := g.numbers[num]
		return f, ok
	}
	f, ok := g.others[card]
	return f, ok
}

func (g *cardGen) put(num uint64, isNum bool, card string, f cardForms) {
	if g.numbers == nil {
		g.numbers, g.others = map[uint64]cardForms{}, map[string]cardForms{}
	}
	if isNum {
		g.numbers[num] = f
	} else {
		g.others[strings.Clone(card)] = f // a clone: the key must not pin the line
	}
}

type cardForms struct{ masked, hash string }

// cardGenMax bounds a generation: a site with up to this many cards hashes
// each once per file, and a larger one keeps its recent cards (clearing one
// cache when full made every row miss once a file had more cards than it held).
const cardGenMax = 8192

// packDigits packs a card of 1 to 17 ASCII digits into its value and length
// (leading zeros count).
func packDigits(card string) (uint64, bool) {
	if len(card) == 0 || len(card) > 17 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(card); i++ {
		d := card[i] - '0'
		if d > 9 {
			return 0, false
		}
		v = v*10 + uint64(d)
	}
	return uint64(len(card))<<57 | v, true // 10^17 < 2^57
}

func (c *cardCache) forms(card string, keyed bool) cardForms {
	num, isNum := packDigits(card)
	if f, ok := c.cur.get(num, isNum, card); ok {
		return f
	}
	f, ok := c.old.get(num, isNum, card)
	if !ok {
		f = cardForms{masked: attendance.MaskCard(card)}
		if keyed {
			c.mac.Reset()
			c.mac.Write([]byte(card))
			f.hash = hex.EncodeToString(c.mac.Sum(c.sum[:0]))
		}
	}
	if len(c.cur.numbers)+len(c.cur.others) >= cardGenMax {
		c.old, c.cur = c.cur, cardGen{}
	}
	c.cur.put(num, isNum, card, f)
	return f
}

// WithDefaults fills zero values: Asia/Seoul, default codes and limits.
func (o Options) WithDefaults() Options {
	if o.Location == nil {
		o.Location = Seoul()
	}
	if o.Codes.CapsEventModes == nil && o.Codes.CapsTenterModes == nil && o.Codes.SecomFlag1Modes == nil && o.Codes.TelecopModes == nil {
		o.Codes = DefaultCodes()
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = DefaultMaxLineBytes
	}
	if o.MaxFieldBytes <= 0 {
		o.MaxFieldBytes = DefaultMaxFieldBytes
	}
	o.cards, o.text = nil, nil // never shared between parses (they may run concurrently)
	return o
}

// Seoul is Asia/Seoul, or a fixed +09:00 zone when the system has no tzdata
// (Korea has had no DST since 1988).
func Seoul() *time.Location {
	if loc, err := time.LoadLocation("Asia/Seoul"); err == nil {
		return loc
	}
	return time.FixedZone("KST", 9*3600)
}

// Emitter receives a parser's output in file order. An error it returns stops
// the parse and is returned by Parse unchanged.
type Emitter interface {
	Punch(p attendance.Punch) error
	Reject(r attendance.Reject) error
}

// Layout describes one export layout.
type Layout struct {
	Name   string // fixed layout name, e.g. "caps-event-txt"
	Vendor string // "adtcaps", "secom" or "telecop"
	// Sniff reports whether the head of a decoded file looks like this
	// layout. head is the first up to 8 KiB of UTF-8 text (BOM and NULs
	// removed); it may hold several lines and may end mid-line, so look at
	// complete lines only (title rows may precede a header).
	Sniff func(head string) bool
	// FileHint reports whether a file name is typical of this layout; used only
	// to break ties when several layouts sniff true.
	FileHint func(name string) bool
	// Parse reads decoded UTF-8 text and emits punches and rejects as it goes.
	// It returns an error only when the file as a whole cannot be read (wrong or
	// missing header, broken XML) or the emitter fails.
	Parse func(r io.Reader, opt Options, emit Emitter) error
}

// FileError is a file-level failure: the file cannot be read, decoded or
// matched to a layout. Row-level problems are rejects, never FileErrors.
type FileError struct {
	File   string
	Line   int // 0 when not about one line
	Reason string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s line %d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Reason)
}

// IsFileError reports whether err is (or wraps) a FileError.
func IsFileError(err error) bool {
	var fe *FileError
	return errors.As(err, &fe)
}

// Row is what a layout extracted from one row, before normalization.
type Row struct {
	Vendor, Layout string
	Line           int
	At             time.Time
	EmployeeNo     string
	Name           string
	Card           string // raw card as written; never leaves Build except hashed or masked
	Mode           attendance.Mode
	RawMode        string
	Device         string
	AuthOK         bool
}

// Build turns a row into a punch: the card is upper-cased and trimmed, an
// all-zero card means no card, the card is masked (and HMAC'd when the site
// has a key), and the event id is derived from content.
func (o *Options) Build(r Row) attendance.Punch {
	card := NormalizeCard(r.Card)
	var forms cardForms
	if card != "" {
		if o.cards == nil {
			o.cards = &cardCache{}
			if len(o.CardKey) > 0 {
				o.cards.mac = hmac.New(sha256.New, o.CardKey)
			}
		}
		forms = o.cards.forms(card, len(o.CardKey) > 0)
	}
	p := attendance.Punch{
		Vendor:     r.Vendor,
		Layout:     r.Layout,
		Site:       o.Site,
		OccurredAt: r.At,
		EmployeeNo: r.EmployeeNo,
		Name:       r.Name,
		CardMasked: forms.masked,
		CardHash:   forms.hash,
		Mode:       r.Mode,
		RawMode:    r.RawMode,
		Device:     r.Device,
		AuthOK:     r.AuthOK,
		SourceFile: o.File,
		SourceLine: r.Line,
	}
	if o.text == nil {
		o.text = &arena{}
	}
	p.EventID = o.text.text(attendance.AppendEventID(o.text.reserve(32), o.Site, r.Vendor, r.At, r.EmployeeNo, card, r.Mode, r.RawMode, r.Device, r.AuthOK))
	return p
}

// Reject builds a reject record. Every card in cards is masked out of raw
// before it is stored, so a raw card number never reaches any output.
func (o *Options) Reject(vendor, layout string, line int, reason, raw string, cards ...string) attendance.Reject {
	raw = MaskCardsIn(raw, cards...)
	return attendance.Reject{
		RejectID: attendance.RejectID(o.Site, o.File, line, raw),
		Vendor:   vendor,
		Layout:   layout,
		Site:     o.Site,
		File:     o.File,
		Line:     line,
		Reason:   reason,
		Raw:      raw,
	}
}

// NormalizeCard trims and upper-cases a card number; all zeros (fingerprint
// users) or empty means no card.
func NormalizeCard(card string) string {
	// Most cards are already upper-case digits and letters: one pass, no copy.
	plain, zeros := card != "", true
	for i := 0; i < len(card) && plain; i++ {
		c := card[i]
		plain = c >= '0' && c <= '9' || c >= 'A' && c <= 'Z'
		zeros = zeros && c == '0'
	}
	if plain {
		if zeros {
			return ""
		}
		return card
	}
	card = strings.ToUpper(strings.TrimSpace(card))
	if strings.Trim(card, "0") == "" {
		return ""
	}
	return card
}

// CardHash is the keyed hash the matcher compares cards by.
func CardHash(key []byte, normalizedCard string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(normalizedCard))
	return hex.EncodeToString(m.Sum(nil))
}
