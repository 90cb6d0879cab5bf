// Package chdb is a binding, without cgo, to libchdb.so: the ClickHouse engine
// as a shared library (npm package @chdb/lib-linux-x64-gnu, fetched by
// scripts/setup-chdb.sh).
//
// Guarantees:
//   - At most one Session is open per process. The engine is a process-wide
//     singleton (one connection per process is a constraint of libchdb); the
//     package keeps that state in package-level variables and Open refuses a
//     second session while one is open.
//   - Queries on a Session are serialized by one mutex: libchdb runs one query
//     at a time on a connection.
//   - A query that fails comes back as *Error with the ClickHouse error code and
//     message parsed from the engine's exception text.
//   - The Go runtime keeps its signal handlers: libchdb's own crash handlers
//     are switched off, and every handler the engine touches while starting or
//     running a query is put back as it was.
package chdb

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Version is the pinned version of @chdb/lib-linux-x64-gnu that
// scripts/setup-chdb.sh installs; LibraryPath looks for it in the cache.
const Version = "26.5.3"

// EnvLib names the environment variable that, when set, gives the path of
// libchdb.so and overrides the cache.
const EnvLib = "ATTND_CHDB_LIB"

// ErrNoLibrary is returned (wrapped) when libchdb.so cannot be found.
var ErrNoLibrary = errors.New("libchdb.so not found: run scripts/setup-chdb.sh (or set " + EnvLib + ")")

// ErrSessionOpen is returned by Open while another Session is open.
var ErrSessionOpen = errors.New("chdb: a session is already open in this process (libchdb allows one)")

// ErrClosed is returned by Query on a closed Session.
var ErrClosed = errors.New("chdb: session closed")

// LibraryPath finds libchdb.so: $ATTND_CHDB_LIB, else
// $ATTND_CACHE/chdb/<Version>/libchdb.so, else .cache/chdb/<Version>/libchdb.so
// in the nearest folder above the working directory that holds a go.mod.
func LibraryPath() (string, error) {
	if p := os.Getenv(EnvLib); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvLib, p, errors.Join(ErrNoLibrary, err))
		}
		return p, nil
	}
	rel := filepath.Join("chdb", Version, "libchdb.so")
	var tried []string
	if c := os.Getenv("ATTND_CACHE"); c != "" {
		p := filepath.Join(c, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		tried = append(tried, p)
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				p := filepath.Join(dir, ".cache", rel)
				if _, err := os.Stat(p); err == nil {
					return p, nil
				}
				tried = append(tried, p)
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("looked in %s: %w", strings.Join(tried, ", "), ErrNoLibrary)
}

// Error is a ClickHouse error reported by the engine.
type Error struct {
	Code    int    // ClickHouse error code, e.g. 60 for UNKNOWN_TABLE; 0 if the text had none
	Name    string // symbolic name when the text ends with one, e.g. "UNKNOWN_TABLE"
	Message string // the exception text as the engine gave it
}

func (e *Error) Error() string {
	if e.Code == 0 {
		return "chdb: " + e.Message
	}
	return fmt.Sprintf("chdb: code %d: %s", e.Code, e.Message)
}

// Exception renders the error the way ClickHouse's HTTP interface does:
// "Code: N. DB::Exception: ...".
func (e *Error) Exception() string {
	if strings.HasPrefix(e.Message, "Code: ") {
		return e.Message
	}
	return fmt.Sprintf("Code: %d. DB::Exception: %s", e.Code, e.Message)
}

var (
	codeRe = regexp.MustCompile(`Code: (\d+)\.`)
	nameRe = regexp.MustCompile(`\(([A-Z][A-Z0-9_]+)\)\s*(?:\(version [^)]*\))?\s*$`)
)

// ParseError turns the engine's exception text into an *Error.
func ParseError(text string) *Error {
	text = strings.TrimSpace(text)
	e := &Error{Message: text}
	if m := codeRe.FindStringSubmatch(text); m != nil {
		e.Code, _ = strconv.Atoi(m[1])
		if i := strings.Index(text, m[0]); i > 0 {
			// Drop any prefix before "Code: " (e.g. "Received exception: ").
			e.Message = strings.TrimSpace(text[i:])
		}
	}
	if m := nameRe.FindStringSubmatch(text); m != nil {
		e.Name = m[1]
	}
	return e
}

// Result is the output of one query.
type Result struct {
	Data         []byte // the output in the requested format; copied into Go memory
	RowsRead     uint64
	BytesRead    uint64
	RowsWritten  uint64
	BytesWritten uint64
	Elapsed      time.Duration
}

// lib holds the functions of the loaded library. The library is loaded once
// per process and never unloaded.
type lib struct {
	connect        func(argc int32, argv []*byte) unsafe.Pointer
	closeConn      func(conn unsafe.Pointer)
	queryN         func(conn unsafe.Pointer, q []byte, qlen uintptr, f []byte, flen uintptr) unsafe.Pointer
	destroy        func(res unsafe.Pointer)
	resultBuffer   func(res unsafe.Pointer) *byte
	resultLength   func(res unsafe.Pointer) uintptr
	resultError    func(res unsafe.Pointer) string
	rowsRead       func(res unsafe.Pointer) uint64
	bytesRead      func(res unsafe.Pointer) uint64
	rowsWritten    func(res unsafe.Pointer) uint64
	bytesWritten   func(res unsafe.Pointer) uint64
	elapsed        func(res unsafe.Pointer) float64
	signalsEnabled func(enabled int32)
}

// Process-wide state forced by libchdb: the library handle and whether a
// session is open.
var (
	loadOnce sync.Once
	loaded   *lib
	loadErr  error

	openMu sync.Mutex
	isOpen bool
)

func load(path string) (*lib, error) {
	loadOnce.Do(func() {
		h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err != nil {
			loadErr = fmt.Errorf("chdb: load %s: %w", path, err)
			return
		}
		l := &lib{}
		for name, fn := range map[string]any{
			"chdb_connect":                     &l.connect,
			"chdb_close_conn":                  &l.closeConn,
			"chdb_query_n":                     &l.queryN,
			"chdb_destroy_query_result":        &l.destroy,
			"chdb_result_buffer":               &l.resultBuffer,
			"chdb_result_length":               &l.resultLength,
			"chdb_result_error":                &l.resultError,
			"chdb_result_rows_read":            &l.rowsRead,
			"chdb_result_bytes_read":           &l.bytesRead,
			"chdb_result_rows_written":         &l.rowsWritten,
			"chdb_result_bytes_written":        &l.bytesWritten,
			"chdb_result_elapsed":              &l.elapsed,
			"chdb_set_signal_handlers_enabled": &l.signalsEnabled,
		} {
			sym, err := purego.Dlsym(h, name)
			if err != nil {
				loadErr = fmt.Errorf("chdb: %s: symbol %s: %w", path, name, err)
				return
			}
			purego.RegisterFunc(fn, sym)
		}
		loaded = l
	})
	return loaded, loadErr
}

// Session is an open connection to the engine with its data under a folder.
type Session struct {
	mu   sync.Mutex // serializes queries; guards conn
	lib  *lib
	conn unsafe.Pointer // chdb_connection* from chdb_connect
	path string
	db   string // current database of the connection as far as known; "" = unknown
	log  *slog.Logger
}

// Setting is one ClickHouse setting (or query parameter) by name and value.
type Setting struct {
	Name, Value string
}

// Options are the per-query choices of QueryWith.
type Options struct {
	// Database is made current before the query ("USE db"); "" leaves the
	// connection's current database as it is.
	Database string
	// Settings apply to this query only: set before it and reset to their
	// defaults after it, while the session is held.
	Settings []Setting
	// Params are query parameters, the values of {name:Type} placeholders.
	Params []Setting
}

// Open starts the engine with its data under dataPath (created if missing)
// and returns the process's one Session. mergeTree are defaults for every
// MergeTree table of the engine (a server's <merge_tree> section; a table's
// own SETTINGS still win); they are written to dataPath/engine-config.xml,
// which the engine reads at start. The context bounds nothing inside the
// engine's start; it is checked before starting.
func Open(ctx context.Context, dataPath string, log *slog.Logger, mergeTree ...Setting) (*Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	libPath, err := LibraryPath()
	if err != nil {
		return nil, fmt.Errorf("chdb: %w", err)
	}
	l, err := load(libPath)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dataPath)
	if err != nil {
		return nil, fmt.Errorf("chdb: data path: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("chdb: data path: %w", err)
	}

	args := []string{"chdb", "--path=" + abs}
	if len(mergeTree) > 0 {
		cfg, err := writeEngineConfig(abs, mergeTree)
		if err != nil {
			return nil, fmt.Errorf("chdb: %w", err)
		}
		args = append(args, "--config-file="+cfg)
	}

	openMu.Lock()
	defer openMu.Unlock()
	if isOpen {
		return nil, ErrSessionOpen
	}
	start := time.Now()
	var conn unsafe.Pointer
	withGoSignals(func() {
		l.signalsEnabled(0)
		argv := make([]*byte, len(args)+1)
		keep := make([][]byte, len(args))
		for i, a := range args {
			keep[i] = append([]byte(a), 0)
			argv[i] = &keep[i][0]
		}
		conn = l.connect(int32(len(args)), argv)
	})
	if conn == nil {
		return nil, fmt.Errorf("chdb: connect with %s failed", strings.Join(args[1:], " "))
	}
	isOpen = true
	s := &Session{lib: l, conn: conn, path: abs, log: log, db: "default"}
	log.Info("chdb: engine started", "path", abs, "lib", libPath, "took", time.Since(start).Round(time.Millisecond))
	return s, nil
}

// writeEngineConfig writes the engine's configuration file under dir: the
// MergeTree defaults, each name checked to be a plain setting name.
func writeEngineConfig(dir string, mergeTree []Setting) (string, error) {
	var b strings.Builder
	b.WriteString("<clickhouse>\n  <merge_tree>\n")
	for _, st := range mergeTree {
		if !settingName.MatchString(st.Name) {
			return "", fmt.Errorf("engine config: %q is not a setting name", st.Name)
		}
		fmt.Fprintf(&b, "    <%s>", st.Name)
		xml.EscapeText(&b, []byte(st.Value))
		fmt.Fprintf(&b, "</%s>\n", st.Name)
	}
	b.WriteString("  </merge_tree>\n</clickhouse>\n")
	path := filepath.Join(dir, "engine-config.xml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return "", fmt.Errorf("engine config: %w", err)
	}
	return path, nil
}

var settingName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Path is the session's data folder.
func (s *Session) Path() string { return s.path }

// Query runs one statement and returns its output in format (e.g. "Native",
// "TabSeparated", "JSONEachRow"; "" means TabSeparated). An INSERT may carry
// its data inline after "FORMAT X " in the query. The context is checked
// before the query starts and while it waits for the session: a running
// query is not interrupted.
func (s *Session) Query(ctx context.Context, query []byte, format string) (*Result, error) {
	return s.QueryWith(ctx, query, format, Options{})
}

var nameRx = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// QuoteString renders v as a ClickHouse string literal.
func QuoteString(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// QuoteIdent renders name as a ClickHouse identifier in backquotes.
func QuoteIdent(name string) string {
	return "`" + strings.NewReplacer(`\`, `\\`, "`", "\\`").Replace(name) + "`"
}

// QueryWith is Query with a database, settings and query parameters for this
// one query. All statements it runs hold the session, so no other query sees
// the settings.
func (s *Session) QueryWith(ctx context.Context, query []byte, format string, opt Options) (*Result, error) {
	if format == "" {
		format = "TabSeparated"
	}
	for _, st := range append(append([]Setting(nil), opt.Settings...), opt.Params...) {
		if !nameRx.MatchString(st.Name) {
			return nil, &Error{Code: 115, Name: "UNKNOWN_SETTING", Message: fmt.Sprintf("Code: 115. DB::Exception: Bad setting or parameter name %q. (UNKNOWN_SETTING)", st.Name)}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.conn == nil {
		return nil, ErrClosed
	}
	if opt.Database != "" && opt.Database != s.db {
		if _, err := s.run([]byte("USE "+QuoteIdent(opt.Database)), "TabSeparated"); err != nil {
			s.db = ""
			return nil, err
		}
		s.db = opt.Database
	}
	var applied []string
	defer func() {
		for _, name := range applied {
			if _, err := s.run([]byte("SET "+name+" = DEFAULT"), "TabSeparated"); err != nil {
				s.log.Warn("chdb: reset setting", "setting", name, "err", err)
			}
		}
	}()
	for _, st := range opt.Settings {
		if _, err := s.run([]byte("SET "+st.Name+" = "+QuoteString(st.Value)), "TabSeparated"); err != nil {
			return nil, err
		}
		applied = append(applied, st.Name)
	}
	for _, p := range opt.Params {
		if _, err := s.run([]byte("SET param_"+p.Name+" = "+QuoteString(p.Value)), "TabSeparated"); err != nil {
			return nil, err
		}
	}
	if changesDatabase(query) {
		s.db = ""
	}
	return s.run(query, format)
}

// changesDatabase tells whether a statement may change the current database
// (a USE, or several statements of which one may be).
func changesDatabase(q []byte) bool {
	head := strings.TrimSpace(string(q[:min(len(q), 64)]))
	return len(head) >= 3 && strings.EqualFold(head[:3], "use") || bytesContainSemicolonStatement(q)
}

func bytesContainSemicolonStatement(q []byte) bool {
	// Only the query text matters, not inline INSERT data: look before any
	// FORMAT clause's data, which cannot be told apart cheaply; so look at
	// the first 4 KiB.
	return strings.Contains(string(q[:min(len(q), 4096)]), ";") && !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(string(q[:min(len(q), 16)]))), "INSERT")
}

// run executes one statement; the caller holds s.mu.
func (s *Session) run(query []byte, format string) (*Result, error) {
	conn := *(*unsafe.Pointer)(s.conn) // chdb_connection from chdb_connection*
	q := make([]byte, len(query)+1)    // NUL-terminated copy: the engine may read past len
	copy(q, query)
	f := append([]byte(format), 0)
	var res unsafe.Pointer
	withGoSignals(func() {
		res = s.lib.queryN(conn, q, uintptr(len(query)), f, uintptr(len(format)))
	})
	if res == nil {
		return nil, &Error{Message: "chdb: query returned no result"}
	}
	defer s.lib.destroy(res)
	if msg := s.lib.resultError(res); msg != "" {
		return nil, ParseError(msg)
	}
	r := &Result{
		RowsRead:     s.lib.rowsRead(res),
		BytesRead:    s.lib.bytesRead(res),
		RowsWritten:  s.lib.rowsWritten(res),
		BytesWritten: s.lib.bytesWritten(res),
		Elapsed:      time.Duration(s.lib.elapsed(res) * float64(time.Second)),
	}
	if n := s.lib.resultLength(res); n > 0 {
		if buf := s.lib.resultBuffer(res); buf != nil {
			r.Data = make([]byte, n)
			copy(r.Data, unsafe.Slice(buf, n))
		}
	}
	return r, nil
}

// Exec runs a statement whose output is not needed.
func (s *Session) Exec(ctx context.Context, query string) error {
	_, err := s.Query(ctx, []byte(query), "TabSeparated")
	return err
}

// Close shuts the engine down. After Close, Open may start it again.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	withGoSignals(func() { s.lib.closeConn(s.conn) })
	s.conn = nil
	openMu.Lock()
	isOpen = false
	openMu.Unlock()
	s.log.Info("chdb: engine closed", "path", s.path)
	return nil
}
