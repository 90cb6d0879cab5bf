package attendance

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/xxh3"
)

// The event id is part of the data contract: ids already in Kafka and
// ClickHouse must stay the ids of the same punches after any upgrade. (It
// changed once, before any release: SHA-256 became XXH3-128.)
func TestEventIDStable(t *testing.T) {
	kst := time.FixedZone("KST", 9*3600)
	at := time.Date(2024, 1, 5, 18, 30, 15, 0, kst)
	id := EventID("hq", "adtcaps", at, "0123", "1010000006780", ModeOut, "2", "0004", true)
	if id != "9f8100a935feb3ce5fb02846cc26882c" {
		t.Fatalf("EventID changed: %s", id)
	}
	// Every field takes part, and fields cannot run into each other.
	others := []string{
		EventID("hq2", "adtcaps", at, "0123", "1010000006780", ModeOut, "2", "0004", true),
		EventID("hq", "adtcaps", at.Add(time.Second), "0123", "1010000006780", ModeOut, "2", "0004", true),
		EventID("hq", "adtcaps", at, "01230", "1010000006780", ModeOut, "2", "0004", true),
		EventID("hq", "adtcaps", at, "0123", "", ModeOut, "2", "0004", true),
		EventID("hq", "adtcaps", at, "0123", "1010000006780", ModeIn, "2", "0004", true),
		EventID("hq", "adtcaps", at, "0123", "1010000006780", ModeOut, "1", "0004", true),
		EventID("hq", "adtcaps", at, "0123", "1010000006780", ModeOut, "2", "0005", true),
		EventID("hq", "adtcaps", at, "0123", "1010000006780", ModeOut, "2", "0004", false),
		EventID("h", "qadtcaps", at, "0123", "1010000006780", ModeOut, "2", "0004", true),
	}
	seen := map[string]bool{id: true}
	for i, o := range others {
		if seen[o] {
			t.Errorf("variant %d shares an id", i)
		}
		seen[o] = true
	}
	// The zone is not content: the same instant is the same punch.
	if EventID("hq", "adtcaps", at.UTC(), "0123", "1010000006780", ModeOut, "2", "0004", true) != id {
		t.Error("the id depends on the zone of the time")
	}
}

func TestMaskCard(t *testing.T) {
	for in, want := range map[string]string{"": "", "1234": "1234", "1010000006780": "*********6780", "가나다라마바": "**다라마바"} {
		if got := MaskCard(in); got != want {
			t.Errorf("MaskCard(%q) = %q, want %q", in, got, want)
		}
	}
}

// Fields too long for the in-place buffer take the append path; both must
// hash the same bytes.
func TestEventIDLongFields(t *testing.T) {
	at := time.Date(2024, 1, 5, 18, 30, 15, 0, time.FixedZone("KST", 9*3600))
	long := strings.Repeat("7", 300)
	for _, emp := range []string{"0123", long[:180], long[:181], long[:190], long} {
		b := appendField(nil, "hq")
		b = appendField(b, "adtcaps")
		b = binary.BigEndian.AppendUint64(b, uint64(at.Unix()))
		for _, f := range []string{emp, "1010000006780", "out", "2", "0004"} {
			b = appendField(b, f)
		}
		b = append(b, 1)
		want := xxh3.Hash128(b).Bytes()
		if got := EventID("hq", "adtcaps", at, emp, "1010000006780", ModeOut, "2", "0004", true); got != hex.EncodeToString(want[:]) {
			t.Fatalf("employee number of %d bytes: id %s, want %x", len(emp), got, want)
		}
	}
}
