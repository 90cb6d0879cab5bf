package history

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
)

func TestReadConfigFile(t *testing.T) {
	yaml := `
kafka: {brokers: [k1:9092], whatever: 1}
daou: {base_url: https://x}
state_dir: /var/lib/attnd
clickhouse:
  addr: [ch1:8123, ch2:8123]
  protocol: http
  database: attendance
  username: attnd
  password: from-file
  some_future_key: ignored
`
	path := filepath.Join(t.TempDir(), "pusher.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(DefaultPasswordEnv, "from-env")
	c, err := ReadConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(c.Addr, ","), "ch1:8123,ch2:8123"; got != want {
		t.Errorf("addr = %s, want %s", got, want)
	}
	if c.Password != "from-env" {
		t.Errorf("password = %q, want the env override", c.Password)
	}
	o, err := c.Options()
	if err != nil {
		t.Fatal(err)
	}
	if o.Protocol != clickhouse.HTTP || o.Auth.Database != "attendance" || o.Auth.Username != "attnd" || o.TLS != nil {
		t.Errorf("options = %+v", o)
	}
}

func TestConfigEnv(t *testing.T) {
	base := ClickHouseConfig{Addr: []string{"h:9000"}, Database: "a", Password: "file"}
	env := map[string]string{"CLICKHOUSE_PASSWORD": "env", "OTHER": "other"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		name    string
		envName string
		lookup  func(string) (string, bool)
		want    string
	}{
		{"default variable", "", lookup, "env"},
		{"named variable", "OTHER", lookup, "other"},
		{"unset keeps file", "MISSING", lookup, "file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			c.PasswordEnv = tt.envName
			if got := c.WithEnv(tt.lookup).Password; got != tt.want {
				t.Errorf("password = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	ok := ClickHouseConfig{Addr: []string{"h:9000"}, Database: "attendance"}
	tests := []struct {
		name    string
		mut     func(*ClickHouseConfig)
		wantErr string
	}{
		{"ok", func(*ClickHouseConfig) {}, ""},
		{"no addr", func(c *ClickHouseConfig) { c.Addr = nil }, "clickhouse.addr"},
		{"bad protocol", func(c *ClickHouseConfig) { c.Protocol = "grpc" }, "clickhouse.protocol"},
		{"default database", func(c *ClickHouseConfig) { c.Database = "default" }, "clickhouse.database"},
		{"injection", func(c *ClickHouseConfig) { c.Database = "a; DROP TABLE x" }, "clickhouse.database"},
		{"cluster macro", func(c *ClickHouseConfig) { c.Cluster = "{cluster}" }, ""},
		{"bad cluster", func(c *ClickHouseConfig) { c.Cluster = "a'b" }, "clickhouse.cluster"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mut(&c)
			err := c.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestConfigTLSBadCA(t *testing.T) {
	c := ClickHouseConfig{Addr: []string{"h:9440"}, Database: "a", TLS: TLSConfig{Enabled: true, CAFile: filepath.Join(t.TempDir(), "none.pem")}}
	if _, err := c.Options(); err == nil {
		t.Fatal("missing CA file accepted")
	}
	c.TLS.CAFile = ""
	o, err := c.Options()
	if err != nil || o.TLS == nil {
		t.Fatalf("tls options = %v, %v", o, err)
	}
}
