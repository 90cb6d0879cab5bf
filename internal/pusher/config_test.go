package pusher

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// The production example in deploy/ is a valid config.
func TestDeployExampleConfig(t *testing.T) {
	c, err := LoadConfig("../../deploy/compose/config/pusher.yaml", env(map[string]string{
		"ATTND_CARD_KEY": "k", "DAOU_CLIENT_ID": "id", "DAOU_CLIENT_SECRET": "secret", "CLICKHOUSE_PASSWORD": "p"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Daou.ClientID != "id" || c.Daou.ClientSecret != "secret" || c.GroupID != "attnd-pusher" || len(c.Match.Sites) != 3 {
		t.Errorf("loaded %+v", c)
	}
	rules, err := c.Rules()
	if err != nil || rules[""].DayStart != 4*time.Hour || rules[""].MaxShift != 16*time.Hour {
		t.Errorf("derive rules %+v, %v", rules[""], err)
	}
}

// Every bad key is named, and no secret appears in the error.
func TestConfigErrorsNameTheKey(t *testing.T) {
	raw := `
state_dir: ""
http: {listen: nowhere}
memory_limit: 384MB
kafka: {brokers: ["127.0.0.1:9092"]}
clickhouse: {addr: ["127.0.0.1:9000"], database: attendance}
daou: {base_url: "http://127.0.0.1:1", client_id: x, client_secret_env: S}
match:
  card_key_env: MISSING_KEY
  directory: {providers: []}
derive: {day_start: "25:00", sites: {lab: {tz: Mars/Base}}}
`
	_, err := ParseConfig([]byte(raw), env(map[string]string{"S": "top-secret-value"}))
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, key := range []string{"state_dir", "http.listen", "memory_limit", "match.directory.providers", "match.card_key_env", "derive.day_start"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error does not name %s:\n%v", key, err)
		}
	}
	if strings.Contains(err.Error(), "top-secret-value") {
		t.Error("secret leaked into the error")
	}
	if _, err := ParseConfig([]byte("state_dir: x\nbogus_key: 1\n"), env(nil)); err == nil || !strings.Contains(err.Error(), "bogus_key") {
		t.Errorf("unknown key: %v", err)
	}
}

func TestParseClock(t *testing.T) {
	for in, want := range map[string]time.Duration{"04:00": 4 * time.Hour, "4h30m": 270 * time.Minute, "00:00": 0} {
		if got, err := ParseClock(in); err != nil || got != want {
			t.Errorf("ParseClock(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"25:00", "-1h", "24h", "x"} {
		if _, err := ParseClock(bad); err == nil {
			t.Errorf("ParseClock(%q) accepted", bad)
		}
	}
}
