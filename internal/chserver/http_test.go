package chserver_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attendance-pipeline/attnd/internal/chtest"
)

type answer struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, u string, body io.Reader, hdr map[string]string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func TestPlainHTTP(t *testing.T) {
	base := chtest.URL(t)
	db := chtest.Database(t)
	// Spool files go to a directory of this test's own: other packages'
	// tests insert through their own fronts at the same time, and a killed
	// process can leave files in the shared temporary directory.
	t.Setenv("TMPDIR", t.TempDir())

	if a := do(t, "GET", base+"/ping", nil, nil); a.status != 200 || a.body != "Ok.\n" {
		t.Fatalf("/ping: %d %q", a.status, a.body)
	}
	if a := do(t, "GET", base+"/", nil, nil); a.status != 200 || a.body != "Ok.\n" {
		t.Fatalf("GET /: %d %q", a.status, a.body)
	}
	a := do(t, "GET", chtest.QueryURL(base, "SELECT 1"), nil, nil)
	if a.status != 200 || a.body != "1\n" {
		t.Fatalf("SELECT 1: %d %q", a.status, a.body)
	}
	if a.header.Get("X-ClickHouse-Format") != "TabSeparated" || !strings.Contains(a.header.Get("X-ClickHouse-Summary"), `"read_rows":"1"`) || a.header.Get("X-ClickHouse-Query-Id") == "" {
		t.Fatalf("SELECT 1 headers: %v", a.header)
	}
	if a := do(t, "POST", base+"/", strings.NewReader("SELECT 1 + 1 AS x FORMAT JSONEachRow"), nil); a.status != 200 || a.body != "{\"x\":2}\n" || a.header.Get("X-ClickHouse-Format") != "JSONEachRow" {
		t.Fatalf("POST query: %d %q %v", a.status, a.body, a.header)
	}
	if a := do(t, "GET", base+"/?default_format=CSV&query="+url.QueryEscape("SELECT 'a', 2"), nil, nil); a.body != "\"a\",2\n" {
		t.Fatalf("default_format=CSV: %q", a.body)
	}

	// Errors: status from the code, headers and body as ClickHouse.
	a = do(t, "GET", chtest.QueryURL(base, "SELECT * FROM "+db+".no_such_table"), nil, nil)
	if a.status != 404 || a.header.Get("X-ClickHouse-Exception-Code") != "60" || !strings.HasPrefix(a.body, "Code: 60. DB::Exception: ") {
		t.Fatalf("unknown table: %d %v %q", a.status, a.header, a.body)
	}
	a = do(t, "GET", chtest.QueryURL(base, "SELEKT 1"), nil, nil)
	if a.status != 400 || a.header.Get("X-ClickHouse-Exception-Code") != "62" || !strings.HasPrefix(a.body, "Code: 62. DB::Exception: ") {
		t.Fatalf("syntax error: %d %v %q", a.status, a.header, a.body)
	}
	a = do(t, "GET", chtest.QueryURL(base, "SELECT throwIf(1)"), nil, nil)
	if a.status != 500 || a.header.Get("X-ClickHouse-Exception-Code") != "395" {
		t.Fatalf("throwIf: %d %v %q", a.status, a.header, a.body)
	}
	a = do(t, "GET", base+"/?database=no_such_db&query=SELECT%201", nil, nil)
	if a.status != 404 || a.header.Get("X-ClickHouse-Exception-Code") != "81" {
		t.Fatalf("unknown database: %d %v %q", a.status, a.header, a.body)
	}
	if a := do(t, "GET", base+"/nowhere", nil, nil); a.status != 404 {
		t.Fatalf("/nowhere: %d", a.status)
	}

	// Inline insert: query in the URL, data in the body, database param.
	if a := do(t, "POST", base+"/?database="+db, strings.NewReader("CREATE TABLE p (id UInt32, name String) ENGINE = MergeTree ORDER BY id"), nil); a.status != 200 {
		t.Fatalf("create: %d %q", a.status, a.body)
	}
	ins := base + "/?database=" + db + "&query=" + url.QueryEscape("INSERT INTO p FORMAT TabSeparated")
	if a := do(t, "POST", ins, strings.NewReader("1\tone\n2\ttwo\n"), nil); a.status != 200 || !strings.Contains(a.header.Get("X-ClickHouse-Summary"), `"written_rows":"2"`) {
		t.Fatalf("insert: %d %q %v", a.status, a.body, a.header)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	io.WriteString(zw, "3\tthree\n")
	zw.Close()
	if a := do(t, "POST", ins, &gz, map[string]string{"Content-Encoding": "gzip"}); a.status != 200 {
		t.Fatalf("gzip insert: %d %q", a.status, a.body)
	}
	if a := do(t, "POST", base+"/?query="+url.QueryEscape("INSERT INTO p VALUES"), strings.NewReader("(4, 'four')"), map[string]string{"X-ClickHouse-Database": db}); a.status != 200 {
		t.Fatalf("VALUES insert with database header: %d %q", a.status, a.body)
	}
	a = do(t, "GET", chtest.QueryURL(base, "SELECT id, name FROM p ORDER BY id"), nil, map[string]string{"X-ClickHouse-Database": db})
	if a.status != 200 || a.body != "1\tone\n2\ttwo\n3\tthree\n4\tfour\n" {
		t.Fatalf("select back: %d %q", a.status, a.body)
	}
	// Bad data: a parse error with its code, nothing inserted.
	if a := do(t, "POST", ins, strings.NewReader("x\tbad\n"), nil); a.status != 400 || a.header.Get("X-ClickHouse-Exception-Code") == "" {
		t.Fatalf("bad data: %d %v %q", a.status, a.header, a.body)
	}
	// The data of INSERT ... FORMAT X is spooled to a file: a body that
	// does not decode is the engine's decompression error, an empty one is
	// NO_DATA_TO_INSERT, and no spool file outlives its request.
	var cut bytes.Buffer // a gzip stream cut in the middle: fails while spooling
	zw = gzip.NewWriter(&cut)
	io.WriteString(zw, strings.Repeat("5\tfive\n", 1000))
	zw.Close()
	for name, bad := range map[string][]byte{"not gzip": []byte("not gzip"), "cut gzip": cut.Bytes()[:cut.Len()/2]} {
		if a := do(t, "POST", ins, bytes.NewReader(bad), map[string]string{"Content-Encoding": "gzip"}); a.header.Get("X-ClickHouse-Exception-Code") != "271" {
			t.Fatalf("%s insert: %d %v %q", name, a.status, a.header, a.body)
		}
	}
	if a := do(t, "POST", ins, strings.NewReader(""), nil); a.header.Get("X-ClickHouse-Exception-Code") != "108" {
		t.Fatalf("empty insert: %d %q, want NO_DATA_TO_INSERT as ClickHouse answers", a.status, a.body)
	}
	if left, _ := filepath.Glob(filepath.Join(os.TempDir(), "chserver-insert-*")); len(left) > 0 {
		t.Fatalf("spool files left behind: %v", left)
	}
	// Settings and query parameters from the URL, for one request only.
	a = do(t, "GET", base+"/?max_threads=3&param_n=7&query="+url.QueryEscape("SELECT getSetting('max_threads'), {n:UInt8} * 2"), nil, nil)
	if a.status != 200 || a.body != "3\t14\n" {
		t.Fatalf("settings and params: %d %q", a.status, a.body)
	}
	a = do(t, "GET", chtest.QueryURL(base, "SELECT changed FROM system.settings WHERE name = 'max_threads'"), nil, nil)
	if a.body != "0\n" {
		t.Fatalf("setting outlived its request: %q", a.body)
	}
	a = do(t, "GET", base+"/?no_such_setting_zz=1&query=SELECT%201", nil, nil)
	if a.status != 404 || a.header.Get("X-ClickHouse-Exception-Code") != "115" {
		t.Fatalf("unknown setting: %d %v %q", a.status, a.header, a.body)
	}
}
