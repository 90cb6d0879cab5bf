package match

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/attendance-pipeline/attnd/internal/attendance"
)

func TestParseRoster(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []attendance.Employee
	}{
		{
			name: "plain",
			in:   "employee_no,login_id,name,card_numbers,aliases\n00120001,kim,김민수,01012345678,\n",
			want: []attendance.Employee{{EmployeeNo: "00120001", LoginID: "kim", Name: "김민수", CardHashes: []string{hash("01012345678")}}},
		},
		{
			name: "BOM, CRLF, lists with ; and |, spaces, blank line, all-zero card",
			in:   "\ufeffemployee_no,login_id,name,card_numbers,aliases\r\n 00120002 ,lee,이서연,\"0105550000a; 0000000000000|01099990000\",KS2203002|T0042\r\n,,,,\r\n",
			want: []attendance.Employee{{EmployeeNo: "00120002", LoginID: "lee", Name: "이서연",
				CardHashes: []string{hash("0105550000A"), hash("01099990000")}, Aliases: []string{"KS2203002", "T0042"}}},
		},
		{
			name: "columns in another order, optional columns absent",
			in:   "Name,Employee_No,Login_ID\n박지훈,00120003,park\n",
			want: []attendance.Employee{{EmployeeNo: "00120003", LoginID: "park", Name: "박지훈"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRoster(strings.NewReader(tt.in), testKey)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseRosterBadRows(t *testing.T) {
	const head = "employee_no,login_id,name,card_numbers,aliases\n"
	tests := []struct {
		name string
		in   string
		key  []byte
		want string
	}{
		{"empty", "", testKey, "empty file"},
		{"missing column", "employee_no,name\n1,a\n", testKey, "line 1: header \"employee_no,name\" lacks column login_id"},
		{"short row", head + "1,a,A,,\n2,b\n", testKey, "line 3: want 5 fields, got 2"},
		{"long row", head + "1,a,A,,,x\n", testKey, "line 2: want 5 fields, got 6"},
		{"no number", head + "1,a,A,,\n\n,b,B,,\n", testKey, "line 4: employee_no is empty"},
		{"duplicate", head + "1,a,A,,\n2,b,B,,\n1,c,C,,\n", testKey, "line 4: employee_no 1 already on line 2"},
		{"bad quote", head + "1,a,A,,\n2,\"b,B,,\n", testKey, "line 3:"},
		{"cards without key", head + "1,a,A,,\n2,b,B,0101234,\n", nil, "line 3: card numbers given but no card key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRoster(strings.NewReader(tt.in), tt.key)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	// A roster without cards needs no key.
	if got, err := ParseRoster(strings.NewReader(head+"1,a,A,0000,\n"), nil); err != nil || len(got) != 1 {
		t.Errorf("no cards, no key: %v, %v", got, err)
	}
}

func TestRosterFileNeverKeepsRawCards(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.csv")
	if err := os.WriteFile(path, []byte("employee_no,login_id,name,card_numbers,aliases\n1,a,A,01012345678,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := RosterFile(path, testKey)
	emps, err := p.Employees(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(emps) != 1 || len(emps[0].CardHashes) != 1 || strings.Contains(strings.Join(emps[0].CardHashes, ""), "01012345678") || len(emps[0].CardHashes[0]) != 64 {
		t.Errorf("employees = %+v", emps)
	}
	if !strings.Contains(p.Name(), path) {
		t.Errorf("Name = %q", p.Name())
	}
	if _, err := RosterFile(filepath.Join(t.TempDir(), "none.csv"), nil).Employees(context.Background()); err == nil {
		t.Error("a missing roster file was accepted")
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("employee_no,login_id,name\n1,a\n"), 0o600)
	if _, err := RosterFile(bad, nil).Employees(context.Background()); err == nil || !strings.Contains(err.Error(), bad+": line 2") {
		t.Errorf("err = %v, want the file and line", err)
	}
}
