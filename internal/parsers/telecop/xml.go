package telecop

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
)

// sniffXML: the .NET DataSet root, and the table name (in a record or in
// the inline xs:schema that may come first).
func sniffXML(head string) bool {
	return strings.Contains(head, "<NewDataSet") && strings.Contains(head, "tb_workresult")
}

type xmlRecord struct {
	XMLName xml.Name `xml:"tb_workresult"`
	record
}

// parseXML streams <NewDataSet><tb_workresult>… token by token, decoding one
// record at a time. Other children of the root (an inline xs:schema, other
// tables) are skipped. source_line is the 1-based record index.
func parseXML(r io.Reader, opt parsekit.Options, emit parsekit.Emitter) error {
	opt = opt.WithDefaults()
	d := xml.NewDecoder(&boundedText{r: r, max: opt.MaxLineBytes})
	d.CharsetReader = identityCharset
	n, depth := 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return &parsekit.FileError{File: opt.File, Line: n + 1, Reason: fmt.Sprintf("broken XML after record %d: %v", n, err)}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				if t.Name.Local != "NewDataSet" {
					return &parsekit.FileError{File: opt.File, Reason: fmt.Sprintf("root element <%s>, want <NewDataSet>", t.Name.Local)}
				}
				depth++
				continue
			}
			if t.Name.Local != "tb_workresult" {
				if err := d.Skip(); err != nil {
					return &parsekit.FileError{File: opt.File, Line: n + 1, Reason: fmt.Sprintf("broken XML in <%s> after record %d: %v", t.Name.Local, n, err)}
				}
				continue
			}
			n++
			var rec xmlRecord
			if err := d.DecodeElement(&rec, &t); err != nil {
				return &parsekit.FileError{File: opt.File, Line: n, Reason: fmt.Sprintf("broken XML in record %d: %v", n, err)}
			}
			if err := emitXML(&opt, emit, n, &rec); err != nil {
				return err
			}
		case xml.EndElement:
			depth--
		}
	}
	if depth == 0 && n == 0 {
		return &parsekit.FileError{File: opt.File, Reason: "no <NewDataSet> root element"}
	}
	return nil
}

func emitXML(opt *parsekit.Options, emit parsekit.Emitter, n int, rec *xmlRecord) error {
	f := &rec.record
	reason := ""
	for _, p := range []*string{&f.DateAttestation, &f.Week, &f.EmpNum, &f.EmpName, &f.Mode, &f.Place, &f.Status} {
		*p = strings.TrimSpace(*p)
		if len(*p) > opt.MaxFieldBytes {
			reason = fmt.Sprintf("field longer than %d bytes", opt.MaxFieldBytes)
		}
	}
	if reason == "" {
		p, why := f.punch(opt, layoutXML, n)
		if why == "" {
			return emit.Punch(p)
		}
		reason = why
	}
	raw, _ := xml.Marshal(rec)
	return emit.Reject(opt.Reject(vendor, layoutXML, n, reason, string(raw)))
}

// identityCharset: the registry hands Parse text it already decoded to UTF-8,
// so a declared Korean or UTF-8 encoding needs no conversion.
func identityCharset(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "utf-8", "utf8", "euc-kr", "euckr", "cp949", "ms949", "windows-949", "x-windows-949", "ks_c_5601-1987":
		return in, nil
	}
	return nil, fmt.Errorf("declared encoding %q not supported (want UTF-8, EUC-KR or CP949)", label)
}

// boundedText fails the read when more than max bytes pass without a '<' or
// '>', so a giant text node or tag in garbage input cannot grow memory.
type boundedText struct {
	r        io.Reader
	max, run int
}

func (b *boundedText) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	for i, c := range p[:n] {
		if c == '<' || c == '>' {
			b.run = 0
		} else if b.run++; b.run > b.max {
			return i, fmt.Errorf("more than %d bytes of text or markup without a tag", b.max)
		}
	}
	return n, err
}
