package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/text/encoding/korean"
)

// BenchmarkParseBigFile runs `ingest parse` as its own process over one
// caps-event-txt export in CP949 of ATTND_BIG_MB megabytes (default 1024,
// cached in $TMPDIR) and reports the process's peak RSS (ru_maxrss) and
// rows/s: the proof that memory stays flat whatever the file size.
//
//	ATTND_BIG_MB=1024 go test -run '^$' -bench ParseBigFile -benchtime 1x ./cmd/ingest
func BenchmarkParseBigFile(b *testing.B) {
	mb := 1024
	if s := os.Getenv("ATTND_BIG_MB"); s != "" {
		var err error
		if mb, err = strconv.Atoi(s); err != nil || mb <= 0 {
			b.Fatalf("ATTND_BIG_MB=%q: want a positive number of megabytes", s)
		}
	}
	path, rows := bigEventFile(b, mb)
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(os.Args[0], "parse", "--vendor", "adtcaps", "--layout", "caps-event-txt", "--site", "hq", "--rejects", os.DevNull, path)
		cmd.Env = append(os.Environ(), reexecEnv+"=1")
		devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		cmd.Stdout = devnull
		stderr, err := os.CreateTemp(b.TempDir(), "stderr")
		if err != nil {
			b.Fatal(err)
		}
		cmd.Stderr = stderr
		start := time.Now()
		err = cmd.Run()
		el := time.Since(start)
		devnull.Close()
		if err != nil {
			msg, _ := os.ReadFile(stderr.Name())
			b.Fatalf("ingest parse %s: %v\n%s", path, err, msg)
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak_RSS_MiB")
		b.ReportMetric(float64(rows)/el.Seconds(), "rows/s")
		b.ReportMetric(float64(mb), "file_MB")
	}
}

// bigEventFile writes (once) a CP949 caps-event-txt file of about mb
// megabytes: 3,000 people tapping in and out over consecutive days.
func bigEventFile(b *testing.B, mb int) (string, int) {
	b.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("attnd-bigfile-%dMB", mb), "caps_events_big.txt")
	rowsPath := path + ".rows"
	if n, err := os.ReadFile(rowsPath); err == nil {
		if rows, err := strconv.Atoi(string(n)); err == nil {
			return path, rows
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(korean.EUCKR.NewEncoder().Writer(f), 1<<20)
	names := []string{"김민수", "이재영", "박지훈", "최서연", "정하늘"}
	day := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var rows, size int
	for size < mb<<20 {
		for p := range 3000 {
			for _, h := range []int{8, 18} {
				at := day.Add(time.Duration(h)*time.Hour + time.Duration(p%60)*time.Minute + time.Duration(p%53)*time.Second)
				mode := 1
				if h == 18 {
					mode = 2
				}
				hms := at.Format("150405")
				n, _ := fmt.Fprintf(w, "%s%04d%s%d010%010d000%d%s%s\r\n", hms, p%9999, names[p%len(names)], mode, p, mode, at.Format("20060102"), hms)
				size += n - 3 // a Hangul name is 9 bytes in UTF-8, 6 in CP949
				rows++
			}
		}
		day = day.AddDate(0, 0, 1)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(rowsPath, []byte(strconv.Itoa(rows)), 0o644); err != nil {
		b.Fatal(err)
	}
	return path, rows
}
