package history

import (
	"context"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

// TestStoreRoundTripHTTP inserts punches through clickhouse-go's HTTP
// protocol and reads them back field for field; a retried insert with the
// same token adds no rows, a different token does (and FINAL collapses it).
func TestStoreRoundTripHTTP(t *testing.T) {
	ctx := context.Background()
	cfg, conn, st := openTest(t)
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, seoul)
	ps := testPunches("hq", start, 500)
	// Raw counts below must not be changed by a background merge collapsing
	// the replaced rows.
	if err := conn.Exec(ctx, "SYSTEM STOP MERGES "+cfg.Database+".punches"); err != nil {
		t.Fatal(err)
	}
	if err := st.InsertPunches(ctx, "t/0/0-499", ps); err != nil {
		t.Fatal(err)
	}
	if err := st.InsertPunches(ctx, "t/0/0-499", ps); err != nil {
		t.Fatalf("retry: %v", err)
	}
	tbl := cfg.Database + ".punches"
	if n := count(t, conn, "SELECT count() FROM "+tbl); n != 500 {
		t.Fatalf("after a retried batch with the same token: %d rows, want 500", n)
	}
	// Another token is another block: stored, then collapsed by event_id.
	if err := st.InsertPunches(ctx, "t/0/0-9-other", ps[:10]); err != nil {
		t.Fatal(err)
	}
	if n := count(t, conn, "SELECT count() FROM "+tbl); n != 510 {
		t.Fatalf("a different token must not be deduplicated: %d rows, want 510", n)
	}
	if n := count(t, conn, "SELECT count() FROM "+tbl+" FINAL"); n != 500 {
		t.Fatalf("FINAL: %d rows, want 500", n)
	}

	emps := []string{"E0000", "E0001", "E0049"}
	got, err := st.PunchesFor(ctx, "hq", emps, start, start.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var want []attendance.Punch
	for _, p := range ps {
		if p.EmployeeNo == "E0000" || p.EmployeeNo == "E0001" || p.EmployeeNo == "E0049" {
			want = append(want, p)
		}
	}
	if len(got) != len(want) || len(want) != 30 {
		t.Fatalf("PunchesFor: %d punches, want %d (30)", len(got), len(want))
	}
	byID := map[string]attendance.Punch{}
	for _, p := range want {
		byID[p.EventID] = p
	}
	for i, p := range got {
		w, ok := byID[p.EventID]
		if !ok {
			t.Fatalf("unexpected punch %+v", p)
		}
		if !p.OccurredAt.Equal(w.OccurredAt) || p.OccurredAt.Location().String() != "Asia/Seoul" {
			t.Errorf("occurred_at %v, want %v in Asia/Seoul", p.OccurredAt, w.OccurredAt)
		}
		p.OccurredAt = w.OccurredAt
		if !reflect.DeepEqual(p, w) {
			t.Errorf("round trip:\n got %+v\nwant %+v", p, w)
		}
		if i > 0 && (got[i-1].EmployeeNo > p.EmployeeNo || got[i-1].EmployeeNo == p.EmployeeNo && got[i-1].OccurredAt.After(p.OccurredAt)) {
			t.Errorf("not ordered by employee, time at %d", i)
		}
	}
	// The window is half-open and the site filters.
	if got, err := st.PunchesFor(ctx, "hq", []string{"E0000"}, ps[0].OccurredAt.Add(time.Second), ps[50].OccurredAt); err != nil || len(got) != 0 {
		t.Errorf("half-open window: %d punches (%v), want 0", len(got), err)
	}
	if got, err := st.PunchesFor(ctx, "plant", emps, start, start.Add(24*time.Hour)); err != nil || len(got) != 0 {
		t.Errorf("other site: %d punches (%v), want 0", len(got), err)
	}
}

// TestMatchedPunches stores matched punches under Daou numbers and reads them
// back per Daou employee and window, each event once.
func TestMatchedPunches(t *testing.T) {
	ctx := context.Background()
	cfg, conn, st := openTest(t)
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, seoul)
	ps := testPunches("hq", start, 200)
	if err := conn.Exec(ctx, "SYSTEM STOP MERGES "+cfg.Database+".matched_punches"); err != nil {
		t.Fatal(err)
	}
	rows := make([]Matched, len(ps))
	for i, p := range ps {
		rows[i] = Matched{Punch: p, EmployeeNo: "D-" + p.EmployeeNo}
	}
	if err := st.InsertMatched(ctx, "m/0/0-199", rows); err != nil {
		t.Fatal(err)
	}
	if err := st.InsertMatched(ctx, "m/0/0-199", rows); err != nil {
		t.Fatal(err)
	}
	if n := count(t, conn, "SELECT count() FROM "+cfg.Database+".matched_punches"); n != 200 {
		t.Fatalf("same token twice: %d rows, want 200", n)
	}
	// A re-delivery in another batch (another token) collapses under FINAL.
	if err := st.InsertMatched(ctx, "m/1/7-26", rows[:20]); err != nil {
		t.Fatal(err)
	}
	got, err := st.MatchedPunches(ctx, []string{"D-E0003", "D-E0007"}, start, ps[len(ps)-1].OccurredAt)
	if err != nil {
		t.Fatal(err)
	}
	var want []attendance.Punch
	for _, p := range ps {
		if p.EmployeeNo == "E0003" || p.EmployeeNo == "E0007" {
			want = append(want, p)
		}
	}
	sort.SliceStable(want, func(i, j int) bool { return want[i].EmployeeNo < want[j].EmployeeNo })
	if len(got) != len(want) || len(want) != 8 {
		t.Fatalf("MatchedPunches: %d punches, want %d (8)", len(got), len(want))
	}
	for i, p := range got {
		w := want[i]
		if p.EventID != w.EventID || p.EmployeeNo != "D-"+w.EmployeeNo || p.Site != w.Site || !p.OccurredAt.Equal(w.OccurredAt) ||
			p.OccurredAt.Location().String() != "Asia/Seoul" ||
			p.Mode != w.Mode || p.RawMode != w.RawMode || p.Device != w.Device || p.AuthOK != w.AuthOK {
			t.Errorf("punch %d:\n got %+v\nwant %+v (with EmployeeNo D-%s)", i, p, w, w.EmployeeNo)
		}
	}
	// Both bounds are inclusive: the last punch is at exactly `to`.
	last := ps[len(ps)-1]
	got, err = st.MatchedPunches(ctx, []string{"D-" + last.EmployeeNo}, last.OccurredAt, last.OccurredAt)
	if err != nil || len(got) != 1 || got[0].EventID != last.EventID {
		t.Errorf("window [t, t] around one punch: %+v (%v), want that punch", got, err)
	}
	// The vendor's number is not the key.
	if got, err := st.MatchedPunches(ctx, []string{"E0003"}, start, start.Add(time.Hour)); err != nil || len(got) != 0 {
		t.Errorf("vendor number: %d punches (%v), want 0", len(got), err)
	}
}

// TestInsertBinaryNewlines inserts punches whose Native encoding holds the
// bytes "\n\n" (source_line 2570 = 0x0A0A, an instant 0x69B50A0A): binary
// data must reach the engine intact whatever bytes it holds. Found by the
// insert benchmark: 10,000-row batches failed with CANNOT_READ_ALL_DATA.
func TestInsertBinaryNewlines(t *testing.T) {
	ctx := context.Background()
	cfg, conn, st := openTest(t)
	ps := testPunches("hq", time.Date(2026, 3, 2, 8, 0, 0, 0, seoul), 3)
	ps[0].SourceLine = 0x0A0A
	ps[1].OccurredAt = time.Unix(0x69B50A0A, 0).In(seoul)
	ps[2].Name = "\n\n;\r\n\r\n"
	if err := st.InsertPunches(ctx, "newlines", ps); err != nil {
		t.Fatalf("insert: %v", err)
	}
	if n := count(t, conn, "SELECT count() FROM "+cfg.Database+".punches WHERE source_line = 2570 OR occurred_at = toDateTime(1773472266) OR name = '\\n\\n;\\r\\n\\r\\n'"); n != 3 {
		t.Errorf("%d of the 3 punches stored intact", n)
	}
}

// A lowCard column holds the strings added, in order, whatever the runs.
func TestLowCardColumn(t *testing.T) {
	in := []string{"in", "in", "out", "", "in", "pass", "pass", "", "", "out"}
	var c lowCard
	for _, s := range in {
		c.add(s)
	}
	if len(c.vals) != len(in) {
		t.Fatalf("%d values, want %d", len(c.vals), len(in))
	}
	for i, v := range c.vals {
		if s, ok := v.(string); !ok || s != in[i] {
			t.Errorf("value %d = %#v, want %q", i, v, in[i])
		}
	}
	if len(c.boxed) != 4 {
		t.Errorf("%d distinct values boxed, want 4", len(c.boxed))
	}
}
