package report

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
	"github.com/attendance-pipeline/attnd/internal/chtest"
	"github.com/attendance-pipeline/attnd/internal/history"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixtureMonth stores March 2026 for two sites into a migrated database:
//   - hq/E001: weekdays 08:5x-18:xx, late on the 2nd, 9th and 16th; a
//     pushed daily record overrides the punches of the 10th.
//   - hq/E002: weekdays 07:00-21:30 in week 11 (over 52 h), missing out on
//     the 20th, a failed authentication every Friday.
//   - plant/P010: night shift 22:00 -> 06:00 on Mondays of the month.
//   - unmatched: an unknown number twice and an ambiguous card once.
func fixtureMonth(t *testing.T, st *history.Store) {
	t.Helper()
	ctx := context.Background()
	kst := time.FixedZone("KST", 9*3600)
	var ps []attendance.Punch
	add := func(site, emp, dev string, at time.Time, mode attendance.Mode, ok bool) {
		ps = append(ps, attendance.Punch{
			EventID: attendance.EventID(site, "adtcaps", at, emp, "", mode, string(mode), dev, ok),
			Vendor:  "adtcaps", Layout: "caps-event-txt", Site: site, OccurredAt: at, EmployeeNo: emp,
			Mode: mode, RawMode: string(mode), Device: dev, AuthOK: ok, SourceFile: "march.txt", SourceLine: len(ps) + 2,
		})
	}
	for d := 1; d <= 31; d++ {
		day := time.Date(2026, 3, d, 0, 0, 0, 0, kst)
		wd := day.Weekday()
		if wd == time.Saturday || wd == time.Sunday {
			continue
		}
		in := day.Add(8*time.Hour + 50*time.Minute + time.Duration(d)*time.Minute/3)
		if d == 2 || d == 9 || d == 16 {
			in = day.Add(9*time.Hour + time.Duration(d)*time.Minute)
		}
		add("hq", "E001", "gate-1", in, attendance.ModeIn, true)
		add("hq", "E001", "gate-1", day.Add(12*time.Hour), attendance.ModePass, true)
		add("hq", "E001", "gate-2", day.Add(18*time.Hour+time.Duration(d)*time.Minute), attendance.ModeOut, true)
		if d >= 9 && d <= 13 {
			add("hq", "E002", "gate-1", day.Add(7*time.Hour), attendance.ModeIn, true)
			add("hq", "E002", "gate-2", day.Add(21*time.Hour+30*time.Minute), attendance.ModeOut, true)
		} else {
			add("hq", "E002", "gate-1", day.Add(8*time.Hour+30*time.Minute), attendance.ModeIn, true)
			if d != 20 {
				add("hq", "E002", "gate-2", day.Add(17*time.Hour+45*time.Minute), attendance.ModeOut, true)
			}
		}
		if wd == time.Friday {
			add("hq", "E002", "gate-1", day.Add(8*time.Hour+29*time.Minute), attendance.ModeIn, false)
		}
		if wd == time.Monday {
			add("plant", "P010", "plant-a", day.Add(22*time.Hour), attendance.ModeIn, true)
			add("plant", "P010", "plant-a", day.Add(30*time.Hour), attendance.ModeOut, true)
		}
	}
	if err := st.InsertPunches(ctx, "fixture/punches", ps); err != nil {
		t.Fatal(err)
	}
	in, out := time.Date(2026, 3, 10, 8, 0, 0, 0, kst), time.Date(2026, 3, 10, 17, 0, 0, 0, kst)
	night := time.Date(2026, 3, 30, 21, 58, 0, 0, kst)
	if err := st.InsertDaily(ctx, []history.Daily{
		{DailyRecord: attendance.DailyRecord{Site: "hq", EmployeeNo: "E001", WorkingDay: "2026-03-10", ClockIn: &in, ClockOut: &out, Flags: []string{}}, Version: 1},
		{DailyRecord: attendance.DailyRecord{Site: "plant", EmployeeNo: "P010", WorkingDay: "2026-03-30", ClockIn: &night, Flags: []string{attendance.FlagMissingOut}}, Version: 2},
	}); err != nil {
		t.Fatal(err)
	}
	var us []attendance.Unmatched
	for i, at := range []time.Time{time.Date(2026, 3, 4, 8, 40, 0, 0, kst), time.Date(2026, 3, 5, 8, 41, 0, 0, kst)} {
		us = append(us, attendance.Unmatched{EventID: fmt.Sprintf("u%d", i), Site: "hq", Vendor: "adtcaps", EmployeeNo: "X999", Name: "김철수",
			OccurredAt: at, Outcome: attendance.OutcomeUnmatched, Reason: "no account with this employee number"})
	}
	us = append(us, attendance.Unmatched{EventID: "u9", Site: "plant", Vendor: "adtcaps", CardMasked: "******4321",
		OccurredAt: time.Date(2026, 3, 6, 22, 1, 0, 0, kst), Outcome: attendance.OutcomeAmbiguous, Candidates: []string{"P010", "P011"}, Reason: "card shared by 2 accounts"})
	if err := st.InsertUnmatched(ctx, "fixture/unmatched", us); err != nil {
		t.Fatal(err)
	}
}

// TestReportsGolden runs every report over the fixture month on the embedded
// engine and compares its table, CSV and JSON with testdata/<name>.<format>
// (go test -run TestReportsGolden -update rewrites them).
func TestReportsGolden(t *testing.T) {
	ctx := context.Background()
	u, err := url.Parse(chtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	db := chtest.Database(t)
	t.Cleanup(func() { // before chtest's DROP ... SYNC, which hangs on MergeTree tables
		if err := chtest.Exec(context.Background(), chtest.URL(t), "DROP DATABASE IF EXISTS "+db); err != nil {
			t.Errorf("drop: %v", err)
		}
	})
	cfg := history.ClickHouseConfig{Addr: []string{u.Host}, Protocol: "http", Database: db}
	conn, err := cfg.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := history.Migrate(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	st, err := history.NewStore(conn, db)
	if err != nil {
		t.Fatal(err)
	}
	fixtureMonth(t, st)

	cases := []struct {
		file string
		name string
		p    Params
	}{
		{"daily_hq_e001", "daily", Params{From: "2026-03-01", To: "2026-03-31", Site: "hq", Employee: "E001"}},
		{"daily_plant", "daily", Params{From: "2026-03-01", To: "2026-03-31", Site: "plant"}},
		{"late", "late", Params{From: "2026-03-01", To: "2026-03-31"}},
		{"late_0835", "late", Params{From: "2026-03-01", To: "2026-03-31", Site: "hq", LateAfter: "08:35"}},
		{"missing", "missing", Params{From: "2026-03-01", To: "2026-03-31"}},
		{"weekly_hours", "weekly-hours", Params{From: "2026-03-04", To: "2026-03-25"}},
		{"gates", "gates", Params{From: "2026-03-01", To: "2026-03-31"}},
		{"unmatched", "unmatched", Params{From: "2026-03-01", To: "2026-03-31"}},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		seen[c.name] = true
		t.Run(c.file, func(t *testing.T) {
			tbl, err := Run(ctx, conn, db, c.name, c.p)
			if err != nil {
				t.Fatal(err)
			}
			if len(tbl.Rows) == 0 {
				t.Fatalf("%s: no rows on the fixture month", c.name)
			}
			for _, f := range Formats {
				var buf bytes.Buffer
				if err := Write(&buf, tbl, f); err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join("testdata", c.file+"."+f), buf.Bytes())
			}
		})
	}
	for _, n := range Names() {
		if !seen[n] {
			t.Errorf("report %s has no golden case", n)
		}
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
