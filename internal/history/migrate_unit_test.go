package history

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitStatements(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"SELECT 1", []string{"SELECT 1"}},
		{"-- c; not a split\nSELECT 1;\n\nSELECT 2;\n", []string{"SELECT 1", "SELECT 2"}},
		{"SELECT 'a;b' -- x;\n; SELECT \"c;d\"", []string{"SELECT 'a;b'", "SELECT \"c;d\""}},
		{"SELECT 'it\\'s;'", []string{"SELECT 'it\\'s;'"}},
		{";;\n-- only comments\n", nil},
	}
	for _, tt := range tests {
		if got := SplitStatements(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitStatements(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMigrationsEmbedded(t *testing.T) {
	for _, cluster := range []bool{false, true} {
		ms, err := Migrations(cluster)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for i, m := range ms {
			if m.Version != uint32(i+1) {
				t.Errorf("cluster=%v: migration %d has version %d: versions must be 1..n without gaps", cluster, i, m.Version)
			}
			names = append(names, m.Name)
			for _, s := range m.Statements {
				if !strings.Contains(s, "{db}.") {
					t.Errorf("%s: statement without {db}. placeholder: %.60s", m.Name, s)
				}
				if cluster && !strings.Contains(s, "ON CLUSTER '{cluster}'") {
					t.Errorf("cluster %s: statement without ON CLUSTER: %.60s", m.Name, s)
				}
			}
		}
		want := "001_schema_migrations.sql 002_punches.sql 003_rejects.sql 004_unmatched.sql 005_files.sql 006_daily_attendance.sql 007_push_log.sql 008_matched_punches.sql 009_merge_selector.sql 010_source_file_lowcard.sql"
		if got := strings.Join(names, " "); got != want {
			t.Errorf("cluster=%v: migrations %s, want %s", cluster, got, want)
		}
	}
}

func TestExpand(t *testing.T) {
	s := "CREATE TABLE {db}.t ON CLUSTER '{cluster}' ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/t', '{replica}')"
	got := Expand(s, "att", "main")
	want := "CREATE TABLE att.t ON CLUSTER 'main' ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/t', '{replica}')"
	if got != want {
		t.Errorf("Expand = %s\nwant      %s", got, want)
	}
	if got := Expand(s, "att", ""); !strings.Contains(got, "'{cluster}'") {
		t.Errorf("Expand without cluster replaced the macro: %s", got)
	}
}
