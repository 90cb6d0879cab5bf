package parsekit

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/gocarina/gocsv"
)

type abcRow struct {
	A string `csv:"A"`
	B string `csv:"B"`
	C string `csv:"C"`
}

type got struct {
	line    int
	row     abcRow
	problem string
	raw     string
}

func readAll[T any](t testing.TB, in string, opt Options, pre int) ([]got, []T) {
	t.Helper()
	rows, err := NewCSVRows[T](strings.NewReader(in), opt, pre)
	if err != nil {
		t.Fatalf("NewCSVRows: %v", err)
	}
	var gs []got
	var ts []T
	for rows.Next() {
		gs = append(gs, got{line: rows.Line(), problem: rows.Problem(), raw: rows.Raw()})
		ts = append(ts, *rows.Row())
	}
	if rows.Err() != nil {
		t.Fatalf("Err: %v", rows.Err())
	}
	return gs, ts
}

// upperCode is converted by gocsv through its TypeUnmarshaller interface:
// something only gocsv's mapping does.
type upperCode string

func (u *upperCode) UnmarshalCSV(s string) error {
	*u = upperCode(strings.ToUpper(s))
	return nil
}

type typedRow struct {
	ID       int       `csv:"id"`
	Name     string    `csv:"Name"`
	Opt      *string   `csv:"opt,omitempty"`
	Code     upperCode `csv:"code"`
	Rate     float64   `csv:"rate"`
	Untagged string    // gocsv would bind a column named "Untagged"; CSVRows must not
	Skipped  string    `csv:"-"`
}

// The mapping is gocsv's: ints, floats, omitempty pointers and
// TypeUnmarshaller fields are filled, with CSVRows' header rules (BOM,
// case, spaces) applied through the Unmarshaller's own header normalizer.
func TestCSVRowsMapsThroughGocsv(t *testing.T) {
	if got, want := strings.Join(CSVColumns[typedRow](), ","), "id,Name,opt,code,rate"; got != want {
		t.Fatalf("CSVColumns = %s, want %s", got, want)
	}
	in := "\ufeff ID ,name,OPT,Code,rate,Untagged,-\n" +
		" 42 , Kim ,,abc,\"1,5\",zzz,s\n" +
		"7,Lee, x ,def,2,q,s\n" +
		"x,Park,,g,0,,\n"
	gs, rows := readAll[typedRow](t, in, Options{}, 0)
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	r := rows[0]
	if r.ID != 42 || r.Name != "Kim" || r.Opt != nil || r.Code != "ABC" || r.Rate != 1.5 || r.Untagged != "" || r.Skipped != "" || gs[0].problem != "" {
		t.Errorf("row 1 = %+v, problem %q", r, gs[0].problem)
	}
	r = rows[1]
	if r.ID != 7 || r.Opt == nil || *r.Opt != "x" || r.Code != "DEF" || r.Rate != 2 || gs[1].problem != "" {
		t.Errorf("row 2 = %+v, problem %q", r, gs[1].problem)
	}
	// A value gocsv cannot convert is a row problem, not a stop.
	if !strings.Contains(gs[2].problem, "invalid syntax") || rows[2].Name != "" || gs[2].line != 4 {
		t.Errorf("row 3 = %+v, %+v", rows[2], gs[2])
	}
}

// Two CSVRows with different options, interleaved row by row in one
// process, each keep their own limits: nothing is shared through gocsv's
// package globals.
func TestCSVRowsIndependentOptions(t *testing.T) {
	in := "A,B,C\n" +
		"1,0123456789abcdef,x\n" +
		"2,short,y\n" +
		"3," + strings.Repeat("z", 300) + ",w\n"
	strict, err := NewCSVRows[abcRow](strings.NewReader(in), Options{MaxFieldBytes: 8, MaxLineBytes: 200}, 0)
	if err != nil {
		t.Fatal(err)
	}
	lax, err := NewCSVRows[typedRow](strings.NewReader("id,Name,opt,code,rate\n1,"+strings.Repeat("n", 20)+",,a,1\n2,b,,c,3\n"), Options{MaxFieldBytes: 64}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var strictP, laxP []string
	for {
		s, l := strict.Next(), lax.Next()
		if !s && !l {
			break
		}
		if s {
			strictP = append(strictP, strict.Problem())
		}
		if l {
			laxP = append(laxP, lax.Problem())
			if lax.Row().Code == "" {
				t.Errorf("lax row %d not mapped", lax.Line())
			}
		}
	}
	want := []string{"B longer than 8 bytes", "", "line longer than 200 bytes"}
	if strings.Join(strictP, "|") != strings.Join(want, "|") {
		t.Errorf("strict problems %q, want %q", strictP, want)
	}
	if strings.Join(laxP, "|") != "|" {
		t.Errorf("lax problems %q", laxP)
	}
	// The same input read with the default limits has no problem at all.
	gs, _ := readAll[abcRow](t, in, Options{}, 0)
	for _, g := range gs {
		if g.problem != "" {
			t.Errorf("default limits: line %d: %s", g.line, g.problem)
		}
	}
	if gocsv.FailIfUnmatchedStructTags || gocsv.FailIfDoubleHeaderNames || gocsv.ShouldAlignDuplicateHeadersWithStructFieldOrder || gocsv.TagName != "csv" || gocsv.TagSeparator != "," {
		t.Error("gocsv globals changed")
	}
}

// The package never touches gocsv's package-level settings.
func TestNoGocsvGlobals(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && id.Name == "gocsv" && strings.HasPrefix(n.Sel.Name, "Set") {
					t.Errorf("%s: gocsv.%s", fset.Position(n.Pos()), n.Sel.Name)
				}
			case *ast.AssignStmt:
				for _, l := range n.Lhs {
					if s, ok := l.(*ast.SelectorExpr); ok {
						if id, ok := s.X.(*ast.Ident); ok && id.Name == "gocsv" {
							t.Errorf("%s: assigns gocsv.%s", fset.Position(n.Pos()), s.Sel.Name)
						}
					}
				}
			}
			return true
		})
	}
}

func TestCSVRowsGuarantees(t *testing.T) {
	in := "Report title,,\n" +
		"printed 2024-01-05,,\n" +
		"\ufeffc , b,A,B,extra\n" + // line 3: header after a preamble; duplicate B: the first wins
		" c1 ,\" b,1 \",a1,dup,\n" + // extra empty field: fine
		",,,,\n" + // blank: skipped
		"\n" +
		"c2,\"multi\nline \"\"q\"\"\",a2,dup,\n" + // lines 6-7
		"c3,b3\n" + // short row
		"c4,b4,a4,dup,,more\n" + // extra non-empty field
		"c5,\"open,a5\n" + // runaway quote, cut at MaxLineBytes
		strings.Repeat("y", 50) + "\n" +
		strings.Repeat("y", 50) + "\n" +
		"c6,b6,a6,dup,\n"
	gs, rows := readAll[abcRow](t, in, Options{MaxLineBytes: 80}, 3)
	type exp struct {
		line    int
		a, b, c string
		problem string
	}
	want := []exp{
		{4, "a1", "b,1", "c1", ""},
		{7, "a2", "multi\nline \"q\"", "c2", ""},
		{9, "", "b3", "c3", "want 5 fields, got 2"},
		{10, "a4", "b4", "c4", "want 5 fields, got 6"},
		{11, "", "open,a5\n" + strings.Repeat("y", 50) + "\n" + strings.Repeat("y", 50), "c5", "quoted field not closed within 80 bytes"},
	}
	if len(gs) < len(want) {
		t.Fatalf("%d rows: %+v", len(gs), gs)
	}
	for i, w := range want {
		g, r := gs[i], rows[i]
		if g.line != w.line || r.A != w.a || r.B != w.b || r.C != w.c || !strings.HasPrefix(g.problem, w.problem) || (w.problem == "" && g.problem != "") {
			t.Errorf("row %d: line %d %+v %q, want %+v", i, g.line, r, g.problem, w)
		}
	}
	if gs[1].raw != "c2,\"multi\nline \"\"q\"\"\",a2,dup," {
		t.Errorf("raw %q", gs[1].raw)
	}
	last := gs[len(gs)-1]
	if last.line != 14 || // physical, after the three lines of the cut record
		rows[len(rows)-1].A != "a6" || last.problem != "" {
		t.Errorf("last row %+v %+v", last, rows[len(rows)-1])
	}
	// Fields: the whole record, bound fields trimmed, others as read.
	rows2, err := NewCSVRows[abcRow](strings.NewReader("A,B,C,D\n a , b , c , d \n"), Options{}, 0)
	if err != nil || !rows2.Next() {
		t.Fatal(err)
	}
	if f := strings.Join(rows2.Fields(), "|"); f != "a|b|c| d " {
		t.Errorf("Fields %q", f)
	}

	// A missing column is a file error naming it (gocsv alone would zero-fill it).
	_, err = NewCSVRows[abcRow](strings.NewReader("A,C\n1,2\n"), Options{File: "f.csv"}, 0)
	var fe *FileError
	if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "lacks column(s) B") || fe.Line != 1 {
		t.Errorf("missing column: %v", err)
	}
	_, err = NewCSVRows[abcRow](strings.NewReader("title\nA,C\n1,2\n"), Options{File: "f.csv"}, 3)
	if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "no header row") {
		t.Errorf("no header: %v", err)
	}
	_, err = NewCSVRows[abcRow](strings.NewReader(""), Options{File: "f.csv"}, 0)
	if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "empty file") {
		t.Errorf("empty: %v", err)
	}
}

// Whatever the input, gocsv's struct holds exactly the (trimmed) fields
// CSVRows split, and nothing panics.
func FuzzCSVRows(f *testing.F) {
	for _, s := range []string{
		"A,B,C\n1,2,3\n",
		"x\nB,A,C\n\"q\"\"\",\"a\nb\",c\n,\n\"\"\n1\n",
		"A,B,C,B\n1,\"2,\r\n3\",\"\",4,5\n\"open\n" + strings.Repeat("z", 40) + "\n",
		"\ufeffa, b ,c\r\n 1 , 2 , 3 \r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		rows, err := NewCSVRows[abcRow](strings.NewReader(string(in)), Options{MaxLineBytes: 64, MaxFieldBytes: 16}, 2)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("not a FileError: %v", err)
			}
			return
		}
		cols := map[string]int{}
		for _, b := range rows.binds {
			cols[b.name] = b.col
		}
		for rows.Next() {
			fields, r := rows.Fields(), rows.Row()
			for name, v := range map[string]string{"A": r.A, "B": r.B, "C": r.C} {
				want := ""
				if c := cols[name]; c < len(fields) {
					want = fields[c]
				}
				if v != want {
					t.Fatalf("line %d: %s = %q, fields %q", rows.Line(), name, v, fields)
				}
			}
		}
		if rows.Err() != nil {
			t.Fatalf("Err: %v", rows.Err())
		}
	})
}

func TestCSVRowsNoColumns(t *testing.T) {
	type none struct{ X string }
	_, err := NewCSVRows[none](strings.NewReader("X\n1\n"), Options{File: "f.csv"}, 0)
	var fe *FileError
	if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "no csv-tagged field") {
		t.Errorf("got %v", err)
	}
}

// skipRow requires column B but does not read it: gocsv never maps it.
type skipRow struct {
	A string `csv:"A"`
	_ string `csv:"B"`
	C string `csv:"C"`
}

// A blank field names a required, checked column that gocsv does not map.
func TestCSVRowsBlankFieldColumns(t *testing.T) {
	if got := strings.Join(CSVColumns[skipRow](), ","); got != "A,B,C" {
		t.Fatalf("CSVColumns = %s", got)
	}
	_, err := NewCSVRows[skipRow](strings.NewReader("A,C\n1,2\n"), Options{File: "f.csv"}, 0)
	var fe *FileError
	if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "lacks column(s) B (want A,B,C)") {
		t.Errorf("missing blank-field column: %v", err)
	}
	gs, rows := readAll[skipRow](t, "C,B,A\n c , b , a \n3,"+strings.Repeat("b", 20)+",1\n", Options{MaxFieldBytes: 16}, 0)
	if len(rows) != 2 || rows[0].A != "a" || rows[0].C != "c" || gs[0].problem != "" {
		t.Errorf("row 1 %+v %+v", rows, gs)
	}
	if len(gs) == 2 && gs[1].problem != "B longer than 16 bytes" {
		t.Errorf("row 2 problem %q", gs[1].problem)
	}
	if _, err := NewCSVRows[struct {
		_ string `csv:"A"`
	}](strings.NewReader("A\n1\n"), Options{}, 0); err == nil || !strings.Contains(err.Error(), "no csv-tagged field") {
		t.Errorf("only blank fields: %v", err)
	}
}

// trimSpan is strings.TrimSpace, on any bytes.
func FuzzTrimSpan(f *testing.F) {
	for _, s := range []string{" a ", "\u00a0김\u3000", "\u2028x\u205f", "\xe3\x80", "\x80\x80\x80\x80 ", " \u0085", "성공", "\xc2\xa0\xa0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := []byte("," + s + ",")
		i, j := trimSpan(b, 1, len(b)-1)
		if got, want := string(b[i:j]), strings.TrimSpace(s); got != want {
			t.Fatalf("trimSpan(%q) = %q, want %q", s, got, want)
		}
	})
}

// spaceLead covers every non-ASCII rune unicode.IsSpace accepts.
func TestSpaceLead(t *testing.T) {
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		if unicode.IsSpace(r) && !spaceLead(string(r)[0]) {
			t.Errorf("%U", r)
		}
	}
}

// commaOffsets is the obvious byte loop, eight bytes at a time.
func FuzzCommaOffsets(f *testing.F) {
	f.Add([]byte("20240105,80303,4000,3,김민수,0003,0100000000003,1,1,1,0"), 4)
	f.Add([]byte("a,b,,,,,,,,,,,,,,,,,c,\"d"), 30)
	f.Add([]byte(",,,,,,,,,\r"), 1)
	f.Fuzz(func(t *testing.T, b []byte, limit int) {
		if limit < 1 || limit > 100 {
			return
		}
		var want []int32
		after := len(b)
		for i, c := range b {
			if c == ',' && len(want) < limit {
				if want = append(want, int32(i)); len(want) == limit {
					after = i + 1
				}
			}
		}
		offs, gotAfter := commaOffsets(b, nil, limit)
		if fmt.Sprint(offs) != fmt.Sprint(want) || gotAfter != after {
			t.Fatalf("%q limit %d: %v %d, want %v %d", b, limit, offs, gotAfter, want, after)
		}
	})
}
