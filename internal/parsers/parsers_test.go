package parsers

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
)

type sink struct {
	punches []attendance.Punch
	rejects []attendance.Reject
}

func (s *sink) Punch(p attendance.Punch) error   { s.punches = append(s.punches, p); return nil }
func (s *sink) Reject(r attendance.Reject) error { s.rejects = append(s.rejects, r); return nil }

func TestFileLevelErrors(t *testing.T) {
	cases := []struct {
		name, file string
		data       []byte
		req        Request
		want       string
	}{
		{"binary", "x.bin", []byte("\x01\x02\x03\x04\x05\x06\x07\x08PK\x03\x04"), Request{}, "not a text file"},
		{"empty", "empty.csv", nil, Request{}, "empty file"},
		{"only blank lines", "blank.txt", []byte("\r\n\r\n  \r\n"), Request{}, "empty file"},
		{"no layout", "notes.txt", []byte("hello world\nthis is not an export\n"), Request{}, "matches no layout"},
		{"unknown vendor", "a.csv", []byte("x\n"), Request{Vendor: "nitgen"}, "unknown vendor"},
		{"unknown layout", "a.csv", []byte("x\n"), Request{Layout: "caps-foo"}, "unknown layout"},
		{"invalid cp949", "bad.txt", []byte("\xff\xfe\xfd\xff\xfe\xfd\xff\n"), Request{}, "not a text file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.req.Name = c.file
			var s sink
			_, err := Parse(context.Background(), bytes.NewReader(c.data), c.req, &s)
			if err == nil {
				t.Fatalf("want error containing %q, got success with %d punches", c.want, len(s.punches))
			}
			if !parsekit.IsFileError(err) {
				t.Fatalf("want a *parsekit.FileError, got %T: %v", err, err)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.file) {
				t.Fatalf("error %q should name the file %q and say %q", err, c.file, c.want)
			}
		})
	}
}

func TestLayoutNamesAreTheContract(t *testing.T) {
	want := []string{"caps-event-txt", "caps-ovrwrk-txt", "caps-tenter-csv", "secom-alarm-csv", "secom-workhistory-csv", "telecop-report-csv", "telecop-workresult-csv", "telecop-workresult-xml"}
	got := layoutNames()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("layouts = %v, want %v", got, want)
	}
	for _, l := range Layouts() {
		if l.Sniff == nil || l.Parse == nil || l.Vendor == "" {
			t.Errorf("layout %s is incomplete", l.Name)
		}
	}
}

func TestCancelledContextStopsParse(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Parse(ctx, strings.NewReader("E_DATE,E_TIME\n"), Request{Name: "a.csv"}, &sink{})
	if err == nil {
		t.Fatal("want an error from a cancelled context")
	}
}
