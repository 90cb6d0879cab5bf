package adtcaps

import (
	"bytes"
	"io"
	"runtime"
	"testing"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
	"golang.org/x/text/encoding/korean"
)

// repeatReader serves line n times without ever holding more than one copy.
type repeatReader struct {
	line []byte
	n    int
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	w := 0
	for w < len(p) {
		if r.n == 0 {
			if w == 0 {
				return 0, io.EOF
			}
			break
		}
		c := copy(p[w:], r.line[r.off:])
		w += c
		if r.off += c; r.off == len(r.line) {
			r.off, r.n = 0, r.n-1
		}
	}
	return w, nil
}

// heapWatch counts punches and samples the live heap as they arrive.
type heapWatch struct {
	punches, rejects int
	maxHeap          uint64
}

func (h *heapWatch) Punch(attendance.Punch) error {
	if h.punches++; h.punches%50_000 == 0 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		h.maxHeap = max(h.maxHeap, m.HeapAlloc)
	}
	return nil
}

func (h *heapWatch) Reject(attendance.Reject) error { h.rejects++; return nil }

// TestStreamsWithFlatMemory: each layout reads a ~20 MB CP949 stream that is
// never in memory as a whole, and the heap stays far below the input size.
func TestStreamsWithFlatMemory(t *testing.T) {
	const heapBound = 24 << 20
	for _, tc := range []struct {
		layout, header, line string
		n                    int
	}{
		{layoutEvent, "", "0851020001김민수10109123456780000320240105085102\r\n", 400_000},
		{layoutTenter, "E_DATE,E_TIME,G_ID,E_ID,E_NAME,E_IDNO,E_CARD,E_GROUP,E_MODE,E_TYPE,E_RESULT\r\n",
			"20240105,85102,4000,17,김민수,100000000001,0109123456780,1,1,1,0\r\n", 300_000},
		{layoutOvrwrk, "", "17\t연구소\t선임\t1\t0001\t김민수\t20240105\t평일\t085102\t183015\t\t\t0\t0\t0030\t0\t0930\t0900\r\n", 200_000},
	} {
		t.Run(tc.layout, func(t *testing.T) {
			line, err := korean.EUCKR.NewEncoder().Bytes([]byte(tc.line))
			if err != nil {
				t.Fatal(err)
			}
			header, _ := korean.EUCKR.NewEncoder().Bytes([]byte(tc.header))
			size := len(header) + len(line)*tc.n
			text, enc, err := parsekit.DecodeText(io.MultiReader(bytes.NewReader(header), &repeatReader{line: line, n: tc.n}))
			if err != nil || enc == "" {
				t.Fatalf("decode: %v %q", err, enc)
			}
			runtime.GC()
			var h heapWatch
			if err := layout(t, tc.layout).Parse(text, parsekit.Options{Site: "hq", File: "big", CardKey: []byte("k")}, &h); err != nil {
				t.Fatal(err)
			}
			perRow := 1
			if tc.layout == layoutOvrwrk {
				perRow = 2 // in and out
			}
			if h.punches != tc.n*perRow || h.rejects != 0 {
				t.Fatalf("%d punches %d rejects, want %d and 0", h.punches, h.rejects, tc.n*perRow)
			}
			if h.maxHeap == 0 || h.maxHeap > heapBound {
				t.Errorf("heap reached %d MB on a %d MB stream, want at most %d MB", h.maxHeap>>20, size>>20, heapBound>>20)
			}
			t.Logf("%s: %d MB stream, max heap %.1f MB", tc.layout, size>>20, float64(h.maxHeap)/(1<<20))
		})
	}
}

// TestCP949FileLargerThanSniffWindow: a CP949 drop larger than the decoder's
// sniff window is CP949 wherever the window ends (on a lead byte, a trail
// byte or ASCII), and parses without rejects.
func TestCP949FileLargerThanSniffWindow(t *testing.T) {
	line, err := korean.EUCKR.NewEncoder().Bytes([]byte("17\t연구소\t선임\t1\t0001\t김민수\t20240105\t평일\t085102\t183015\t\t\t0\t0\t0030\t0\t0930\t0900\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	rows := parsekit.SniffBytes/len(line) + 10
	for shift := range len(line) { // moves the window's end over every byte of a line
		first := bytes.Replace(line, []byte("\t0900\r\n"), append(bytes.Repeat([]byte(" "), shift), "\t0900\r\n"...), 1)
		data := append(append([]byte{}, first...), bytes.Repeat(line, rows)...)
		text, enc, err := parsekit.DecodeText(bytes.NewReader(data))
		if err != nil || enc != parsekit.EncCP949 {
			t.Fatalf("shift %d (window ends on byte %#x): %q %v", shift, data[parsekit.SniffBytes-1], enc, err)
		}
		var h heapWatch
		if err := layout(t, layoutOvrwrk).Parse(text, parsekit.Options{Site: "hq", File: "ovrwrk_20240105.txt"}, &h); err != nil || h.rejects != 0 || h.punches != 2*(rows+1) {
			t.Fatalf("shift %d: %d punches %d rejects %v", shift, h.punches, h.rejects, err)
		}
	}
}
