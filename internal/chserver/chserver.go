// Package chserver serves ClickHouse's HTTP interface in front of the
// embedded engine (internal/chdb), on loopback, so that curl and
// clickhouse-go in HTTP mode talk to it as to a ClickHouse server.
//
// What it guarantees:
//   - GET /?query=..., POST with the query as body, and POST with
//     ?query=INSERT ... FORMAT X and the data as body (inline data) all run
//     one statement on the engine; the engine runs one query at a time.
//   - The database comes from the `database` parameter or the
//     X-ClickHouse-Database header ("default" otherwise); the output format
//     from the query's FORMAT clause, else `default_format` or the
//     X-ClickHouse-Format header, else TabSeparated.
//   - Every other URL parameter is a setting for that query only (for example
//     insert_deduplication_token); param_NAME parameters are query parameters.
//     Settings never outlive their request, and a SET statement sent as a
//     query has no lasting effect (as on ClickHouse without a session):
//     session_id is accepted and ignored.
//   - Request bodies may be compressed with Content-Encoding gzip, deflate,
//     br, zstd or lz4, or with ClickHouse's block compression (decompress=1,
//     LZ4 or ZSTD); compress=1 compresses the response with ClickHouse's
//     block compression, as clickhouse-go's LZ4/ZSTD modes expect.
//   - Errors are answered as ClickHouse does: an HTTP status chosen from the
//     error code (404 for unknown tables and databases, 400 for syntax and
//     parse errors, 500 otherwise), X-ClickHouse-Exception-Code and a body
//     "Code: N. DB::Exception: ...".
//   - clickhouse-go's first query over HTTP ("SELECT displayName(), version(),
//     revision(), timezone()") is answered by the front with a Native block
//     encoded for the client's protocol revision and reporting revision 0, so
//     that the driver decodes every later block as the engine's plain Native
//     output (see shared engineering notes, chDB section).
//   - There is no authentication: the front listens on 127.0.0.1 only.
package chserver

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	chcompress "github.com/ClickHouse/ch-go/compress"
	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/attendance-pipeline/attnd/internal/chdb"
)

// DisplayName is what the front reports as the server's display name.
const DisplayName = "attnd-chdb"

// helloQuery is clickhouse-go's first query over HTTP.
const helloQuery = "SELECT displayName(), version(), revision(), timezone()"

// Handler answers ClickHouse HTTP requests with one engine session.
type Handler struct {
	sess     *chdb.Session
	log      *slog.Logger
	version  string
	timezone string
	down     atomic.Bool
}

// SetDown makes every request fail with 503 as an unreachable server would
// (fault tests); false restores service.
func (h *Handler) SetDown(down bool) { h.down.Store(down) }

// NewHandler asks the engine for its version and time zone (reported to
// clients) and returns the handler.
func NewHandler(ctx context.Context, sess *chdb.Session, log *slog.Logger) (*Handler, error) {
	if log == nil {
		log = slog.Default()
	}
	r, err := sess.Query(ctx, []byte("SELECT version(), timezone()"), "TabSeparated")
	if err != nil {
		return nil, fmt.Errorf("chserver: engine version: %w", err)
	}
	f := strings.Split(strings.TrimSpace(string(r.Data)), "\t")
	if len(f) != 2 {
		return nil, fmt.Errorf("chserver: engine version: unexpected answer %q", r.Data)
	}
	return &Handler{sess: sess, log: log, version: f[0], timezone: f[1]}, nil
}

// Server is a running HTTP front.
type Server struct {
	URL  string // base URL, http://127.0.0.1:port
	Addr string // host:port
	srv  *http.Server
	done chan error
}

// Listen serves h on addr ("127.0.0.1:0" picks a free port) until Close.
func Listen(ctx context.Context, addr string, h http.Handler, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("chserver: listen %s: %w", addr, err)
	}
	s := &Server{
		Addr: ln.Addr().String(),
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		done: make(chan error, 1),
	}
	s.URL = "http://" + s.Addr
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	log.Info("chserver: serving ClickHouse HTTP", "url", s.URL)
	return s, nil
}

// Close stops accepting requests and waits (bounded by ctx) for running ones.
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	if serr := <-s.done; serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("chserver: close: %w", err)
	}
	return nil
}

// reserved URL parameters are part of the HTTP interface, not settings.
var reserved = map[string]bool{
	"query": true, "database": true, "default_format": true, "client_protocol_version": true,
	"query_id": true, "quota_key": true, "session_id": true, "session_timeout": true, "session_check": true,
	"compress": true, "decompress": true, "user": true, "password": true, "buffer_size": true,
	"wait_end_of_query": true, "enable_http_compression": true, "http_zlib_compression_level": true,
	"network_compression_method": true, "network_zstd_compression_level": true,
	"http_native_compression_disable_checksumming_on_decompress": true,
}

var (
	formatRx   = regexp.MustCompile(`(?is)\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$`)
	setRx      = regexp.MustCompile(`(?is)^\s*SET\s`)
	insertRx   = regexp.MustCompile(`(?is)^\s*INSERT\s`)
	spaceRx    = regexp.MustCompile(`\s+`)
	maxBodyLen = int64(4 << 30)
)

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.down.Load() {
		h.fail(w, r, http.StatusServiceUnavailable, &chdb.Error{Code: 210, Name: "NETWORK_ERROR", Message: "server is down (fault switch)"})
		return
	}
	switch r.URL.Path {
	case "/ping", "/replicas_status":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.fail(w, r, http.StatusMethodNotAllowed, &chdb.Error{Code: 1, Name: "UNSUPPORTED_METHOD", Message: "Only GET and HEAD are allowed here"})
			return
		}
		io.WriteString(w, "Ok.\n")
		return
	case "/":
	default:
		h.fail(w, r, http.StatusNotFound, &chdb.Error{Code: 0, Message: fmt.Sprintf("There is no handle %s", r.URL.Path)})
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost && r.Method != http.MethodHead {
		h.fail(w, r, http.StatusMethodNotAllowed, &chdb.Error{Code: 1, Name: "UNSUPPORTED_METHOD", Message: "Only GET, HEAD and POST are allowed"})
		return
	}
	params := r.URL.Query()
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		h.fail(w, r, 0, &chdb.Error{Code: 48, Name: "NOT_IMPLEMENTED", Message: "External tables (multipart/form-data) are not supported by the embedded engine's HTTP front"})
		return
	}
	query := params.Get("query")
	decompress := params.Get("decompress") == "1"
	var body, full []byte
	q := strings.TrimRight(query, " \t\r\n")
	if clause := insertFormatRx.FindStringIndex(q); clause != nil && insertRx.MatchString(q) {
		// INSERT ... FORMAT X in the URL, the data as the body (what
		// clickhouse-go sends): the data goes straight to the file the
		// engine reads (spoolInsert), never whole in memory.
		stmt, cleanup, err := spoolInsert(r, decompress, q, clause[0])
		if err != nil {
			h.fail(w, r, 0, err)
			return
		}
		defer cleanup()
		full = stmt
	} else {
		var err error
		if body, err = readBody(r, decompress); err != nil {
			h.fail(w, r, 0, err)
			return
		}
	}
	switch {
	case query == "" && len(body) == 0:
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			io.WriteString(w, "Ok.\n")
			return
		}
		h.fail(w, r, 0, &chdb.Error{Code: 62, Name: "SYNTAX_ERROR", Message: "Empty query"})
		return
	}
	// The body continues the query: for an INSERT it is the inline data,
	// which the engine takes to start after the first newline following the
	// FORMAT name.
	switch {
	case full != nil: // spooled
	case query != "":
		full = make([]byte, 0, len(q)+1+len(body))
		full = append(full, q...)
		if len(body) > 0 {
			full = append(full, '\n')
			full = append(full, body...)
		}
	default:
		full = body
	}

	format := params.Get("default_format")
	if format == "" {
		format = r.Header.Get("X-ClickHouse-Format")
	}
	if format == "" {
		format = "TabSeparated"
	}
	head := full[:min(len(full), 1<<16)]
	isInsert := insertRx.Match(head)
	if !isInsert {
		if m := formatRx.FindSubmatch(head); m != nil && len(head) == len(full) {
			format = string(m[1])
		}
	}
	revision, _ := strconv.ParseUint(params.Get("client_protocol_version"), 10, 64)

	queryID := params.Get("query_id")
	if queryID == "" {
		queryID = newQueryID()
	}
	w.Header().Set("X-ClickHouse-Query-Id", queryID)
	w.Header().Set("X-ClickHouse-Server-Display-Name", DisplayName)
	w.Header().Set("X-ClickHouse-Timezone", h.timezone)

	if format == "Native" && normalize(full) == helloQuery {
		h.writeOK(w, r, params, format, h.hello(revision), &chdb.Result{RowsRead: 1})
		return
	}
	if setRx.Match(head) {
		// SET without a session does nothing lasting on ClickHouse either.
		h.writeOK(w, r, params, format, nil, &chdb.Result{})
		return
	}

	opt := chdb.Options{Database: params.Get("database")}
	if opt.Database == "" {
		opt.Database = r.Header.Get("X-ClickHouse-Database")
	}
	if opt.Database == "" {
		opt.Database = "default"
	}
	for name, vals := range params {
		if len(vals) == 0 || reserved[name] {
			continue
		}
		if p, ok := strings.CutPrefix(name, "param_"); ok {
			opt.Params = append(opt.Params, chdb.Setting{Name: p, Value: vals[len(vals)-1]})
			continue
		}
		opt.Settings = append(opt.Settings, chdb.Setting{Name: name, Value: vals[len(vals)-1]})
	}

	res, err := h.sess.QueryWith(r.Context(), full, format, opt)
	if err != nil {
		h.fail(w, r, 0, err)
		return
	}
	h.writeOK(w, r, params, format, res.Data, res)
}

// insertFormatRx finds the trailing FORMAT clause of an INSERT query.
var insertFormatRx = regexp.MustCompile(`(?is)\s+FORMAT\s+[A-Za-z0-9_]+\s*;?\s*$`)

// spoolInsert copies the decoded request body into a temporary file and
// returns query (an INSERT whose FORMAT clause starts at format) rewritten
// to read it, INSERT
// INTO t (cols) [SETTINGS ...] FROM INFILE 'f' FORMAT X, and the file's
// removal. Data inline after the query would be cut by the engine at a blank
// line (bytes 0a 0a, common in binary formats: "Cannot read all data"). An
// empty body leaves the query as it is, without a file.
func spoolInsert(r *http.Request, decompress bool, query string, format int) ([]byte, func(), error) {
	rd, release, err := bodyReader(r, decompress)
	defer release()
	if err != nil {
		return nil, func() {}, err
	}
	f, err := os.CreateTemp("", "chserver-insert-*.bin")
	if err != nil {
		return nil, func() {}, fmt.Errorf("chserver: spool insert data: %w", err)
	}
	cleanup := func() { os.Remove(f.Name()) }
	buf := spoolBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(struct{ io.Writer }{f}, rd, *buf) // the wrapper keeps CopyBuffer off ReadFrom: f's would not use buf
	spoolBufs.Put(buf)
	if cerr := f.Close(); err == nil && cerr != nil {
		cleanup()
		return nil, func() {}, fmt.Errorf("chserver: spool insert data: %w", cerr)
	}
	if err != nil {
		cleanup()
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, func() {}, fmt.Errorf("chserver: spool insert data: %w", err)
		}
		return nil, func() {}, bodyError(r, decompress, err)
	}
	if n == 0 {
		cleanup()
		return []byte(query), func() {}, nil
	}
	return []byte(query[:format] + " FROM INFILE " + chdb.QuoteString(f.Name()) + query[format:]), cleanup, nil
}

var spoolBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

func normalize(q []byte) string {
	if len(q) > 200 {
		return ""
	}
	return strings.TrimRight(strings.TrimSpace(spaceRx.ReplaceAllString(string(q), " ")), ";")
}

// hello encodes clickhouse-go's first query's answer for the client's
// protocol revision, reporting revision 0: the engine's Native output has no
// block info and no custom-serialization flags, which is how the driver then
// decodes it.
func (h *Handler) hello(revision uint64) []byte {
	b := proto.NewBlock()
	for _, c := range [][2]string{{"displayName()", "String"}, {"version()", "String"}, {"revision()", "UInt32"}, {"timezone()", "String"}} {
		if err := b.AddColumn(c[0], column.Type(c[1])); err != nil {
			panic(err) // fixed, valid types
		}
	}
	if err := b.Append(DisplayName, h.version, uint32(0), h.timezone); err != nil {
		panic(err) // values match the fixed types
	}
	var buf chproto.Buffer
	if err := b.Encode(&buf, revision); err != nil {
		panic(err) // encoding into memory does not fail
	}
	return buf.Buf
}

func (h *Handler) writeOK(w http.ResponseWriter, r *http.Request, params map[string][]string, format string, data []byte, res *chdb.Result) {
	hdr := w.Header()
	hdr.Set("X-ClickHouse-Format", format)
	hdr.Set("Content-Type", contentType(format))
	sum, _ := json.Marshal(map[string]string{
		"read_rows":          strconv.FormatUint(res.RowsRead, 10),
		"read_bytes":         strconv.FormatUint(res.BytesRead, 10),
		"written_rows":       strconv.FormatUint(res.RowsWritten, 10),
		"written_bytes":      strconv.FormatUint(res.BytesWritten, 10),
		"total_rows_to_read": "0",
		"result_rows":        "0",
		"result_bytes":       strconv.Itoa(len(data)),
		"elapsed_ns":         strconv.FormatInt(res.Elapsed.Nanoseconds(), 10),
	})
	hdr.Set("X-ClickHouse-Summary", string(sum))
	get := func(k string) string {
		if v := params[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if get("compress") == "1" && len(data) > 0 {
		out, err := blockCompress(data, get("network_compression_method"))
		if err != nil {
			h.fail(w, r, 0, err)
			return
		}
		data = out
	} else if get("enable_http_compression") == "1" && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") && len(data) > 0 {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(data)
		zw.Close()
		data = buf.Bytes()
		hdr.Set("Content-Encoding", "gzip")
	}
	hdr.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(data)
	}
}

// blockCompress compresses data in ClickHouse's block format (checksum,
// method, sizes), in blocks of at most 1 MiB.
func blockCompress(data []byte, method string) ([]byte, error) {
	m := chcompress.LZ4
	switch strings.ToUpper(method) {
	case "", "LZ4":
	case "ZSTD":
		m = chcompress.ZSTD
	case "NONE":
		m = chcompress.None
	default:
		return nil, &chdb.Error{Code: 48, Name: "NOT_IMPLEMENTED", Message: fmt.Sprintf("Compression method %s is not supported", method)}
	}
	cw := chcompress.NewWriter(chcompress.LevelZero, m)
	var out []byte
	for len(data) > 0 {
		n := min(len(data), 1<<20)
		if err := cw.Compress(data[:n]); err != nil {
			return nil, fmt.Errorf("chserver: compress: %w", err)
		}
		out = append(out, cw.Data...)
		data = data[n:]
	}
	return out, nil
}

// bodyReader returns the request body with Content-Encoding and, with
// decompress=1, ClickHouse's block compression undone, and a function that
// releases the decoders. Read errors go through bodyError.
func bodyReader(r *http.Request, decompress bool) (io.Reader, func(), error) {
	if r.Body == nil {
		return bytes.NewReader(nil), func() {}, nil
	}
	var rd io.Reader = http.MaxBytesReader(nil, r.Body, maxBodyLen)
	var closers []io.Closer
	release := func() {
		for _, c := range closers {
			c.Close()
		}
	}
	switch enc := contentEncoding(r); enc {
	case "":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, release, cannotDecompress(enc, err)
		}
		closers = append(closers, zr)
		rd = zr
	case "deflate":
		zr, err := zlib.NewReader(rd)
		if err != nil {
			return nil, release, cannotDecompress(enc, err)
		}
		closers = append(closers, zr)
		rd = zr
	case "br":
		rd = brotli.NewReader(rd)
	case "zstd":
		zr, err := zstd.NewReader(rd)
		if err != nil {
			return nil, release, cannotDecompress(enc, err)
		}
		closers = append(closers, zr.IOReadCloser())
		rd = zr
	case "lz4":
		rd = lz4.NewReader(rd)
	default:
		return nil, release, &chdb.Error{Code: 48, Name: "NOT_IMPLEMENTED", Message: fmt.Sprintf("Unknown Content-Encoding: %s", enc)}
	}
	if decompress {
		rd = chcompress.NewReader(rd)
	}
	return rd, release, nil
}

// contentEncoding is the request's Content-Encoding, lower case; "" for
// none (also when it says identity or none).
func contentEncoding(r *http.Request) string {
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "identity", "none":
		return ""
	default:
		return enc
	}
}

// bodyError is the engine's answer to an error reading the body.
func bodyError(r *http.Request, decompress bool, err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &chdb.Error{Code: 202, Name: "TOO_LARGE_REQUEST", Message: "Request body too large"}
	}
	if enc := contentEncoding(r); enc != "" || decompress {
		return cannotDecompress(enc, err)
	}
	return &chdb.Error{Code: 210, Name: "NETWORK_ERROR", Message: "Cannot read request body: " + err.Error()}
}

// readBody reads the whole request body, decoded (bodyReader).
func readBody(r *http.Request, decompress bool) ([]byte, error) {
	rd, release, err := bodyReader(r, decompress)
	defer release()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 && contentEncoding(r) == "" && !decompress {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := buf.ReadFrom(rd); err != nil {
		return nil, bodyError(r, decompress, err)
	}
	return buf.Bytes(), nil
}

func cannotDecompress(enc string, err error) error {
	return &chdb.Error{Code: 271, Name: "CANNOT_DECOMPRESS", Message: fmt.Sprintf("Cannot decompress request body (%s): %v", enc, err)}
}

func contentType(format string) string {
	switch {
	case format == "Native", format == "RowBinary", strings.HasPrefix(format, "RowBinary"), format == "Parquet", format == "Arrow", format == "ArrowStream", format == "ORC", format == "Avro":
		return "application/octet-stream"
	case strings.HasPrefix(format, "JSON"):
		if strings.Contains(format, "EachRow") || strings.Contains(format, "Lines") {
			return "application/x-ndjson; charset=UTF-8"
		}
		return "application/json; charset=UTF-8"
	case strings.HasPrefix(format, "TabSeparated"), strings.HasPrefix(format, "TSV"):
		return "text/tab-separated-values; charset=UTF-8"
	case strings.HasPrefix(format, "CSV"):
		return "text/csv; charset=UTF-8; header=absent"
	default:
		return "text/plain; charset=UTF-8"
	}
}

// Status is the HTTP status ClickHouse answers for an error code.
func Status(code int) int {
	switch code {
	case 60, 46, 47, 50, 56, 81, 115, 63, 73, 336, 230:
		// UNKNOWN_TABLE, UNKNOWN_FUNCTION, UNKNOWN_IDENTIFIER, UNKNOWN_TYPE,
		// UNKNOWN_STORAGE, UNKNOWN_DATABASE, UNKNOWN_SETTING,
		// UNKNOWN_AGGREGATE_FUNCTION, UNKNOWN_FORMAT, UNKNOWN_DATABASE_ENGINE,
		// UNKNOWN_TYPE_OF_QUERY
		return http.StatusNotFound
	case 6, 25, 26, 27, 38, 41, 62, 72, 117, 53, 43, 42, 36, 44, 8, 456, 457, 467, 376, 69, 70, 32, 33, 271:
		// CANNOT_PARSE_*, SYNTAX_ERROR, INCORRECT_DATA, TYPE_MISMATCH,
		// ILLEGAL_TYPE_OF_ARGUMENT, NUMBER_OF_ARGUMENTS_DOESNT_MATCH,
		// BAD_ARGUMENTS, ILLEGAL_COLUMN, THERE_IS_NO_COLUMN,
		// UNKNOWN_QUERY_PARAMETER, BAD_QUERY_PARAMETER, ARGUMENT_OUT_OF_BOUND,
		// CANNOT_CONVERT_TYPE, ATTEMPT_TO_READ_AFTER_EOF, CANNOT_READ_ALL_DATA,
		// CANNOT_DECOMPRESS
		return http.StatusBadRequest
	case 202:
		return http.StatusRequestEntityTooLarge
	case 48:
		return http.StatusNotImplemented
	case 159:
		return http.StatusRequestTimeout
	default:
		return http.StatusInternalServerError
	}
}

// fail writes err as ClickHouse does. status 0 means: from the error code.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	var ce *chdb.Error
	if !errors.As(err, &ce) {
		switch {
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			ce = &chdb.Error{Code: 394, Name: "QUERY_WAS_CANCELLED", Message: err.Error()}
		case errors.Is(err, chdb.ErrClosed):
			ce = &chdb.Error{Code: 210, Name: "NETWORK_ERROR", Message: err.Error()}
		default:
			ce = &chdb.Error{Code: 1001, Name: "STD_EXCEPTION", Message: err.Error()}
		}
	}
	if status == 0 {
		status = Status(ce.Code)
	}
	text := ce.Exception()
	if ce.Name != "" && !strings.Contains(text, "("+ce.Name+")") {
		text += " (" + ce.Name + ")"
	}
	if !strings.Contains(text, "(version ") {
		text += " (version " + h.version + ")"
	}
	hdr := w.Header()
	hdr.Set("X-ClickHouse-Exception-Code", strconv.Itoa(ce.Code))
	if ce.Name != "" {
		hdr.Set("X-ClickHouse-Exception-Name", ce.Name)
	}
	hdr.Set("Content-Type", "text/plain; charset=UTF-8")
	w.WriteHeader(status)
	io.WriteString(w, text+"\n")
	h.log.Debug("chserver: query failed", "code", ce.Code, "status", status, "err", text)
}

func newQueryID() string {
	var b [16]byte
	rand.Read(b[:])
	s := hex.EncodeToString(b[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}
