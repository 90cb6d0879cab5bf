package history

import (
	"fmt"
	"time"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

var seoul = time.FixedZone("KST", 9*3600)

// testPunches returns n distinct punches of people at site, starting at
// start, one every 37 s across 50 people, ids from attendance.EventID.
func testPunches(site string, start time.Time, n int) []attendance.Punch {
	ps := make([]attendance.Punch, n)
	for i := range ps {
		at := start.Add(time.Duration(i) * 37 * time.Second).In(seoul)
		emp := fmt.Sprintf("E%04d", i%50)
		mode := attendance.ModeIn
		if i%2 == 1 {
			mode = attendance.ModeOut
		}
		dev := fmt.Sprintf("gate-%d", i%3)
		card := fmt.Sprintf("%010d", 1000+i%50)
		ps[i] = attendance.Punch{
			EventID: attendance.EventID(site, "adtcaps", at, emp, card, mode, string(mode), dev, true),
			Vendor:  "adtcaps", Layout: "caps-event-txt", Site: site, OccurredAt: at,
			EmployeeNo: emp, Name: "홍길동", CardMasked: attendance.MaskCard(card),
			Mode: mode, RawMode: string(mode), Device: dev, AuthOK: i%17 != 0,
			SourceFile: "drop/2026-03-02.txt", SourceLine: i + 2,
		}
	}
	return ps
}
