package pusher

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/attendance-pipeline/attnd/internal/derive"
	"github.com/attendance-pipeline/attnd/internal/gcbudget"
	"github.com/attendance-pipeline/attnd/internal/history"
	"github.com/attendance-pipeline/attnd/internal/match"
	"github.com/attendance-pipeline/attnd/internal/publish"
	"github.com/attendance-pipeline/attnd/internal/push"
)

// Defaults of the pusher.
const (
	DefaultGroupID       = "attnd-pusher"
	DefaultListen        = "127.0.0.1:9465"
	DefaultBatchRows     = 5000
	DefaultBatchInterval = 200 * time.Millisecond
	DefaultBlockedPause  = 30 * time.Minute
	DefaultUnmatched     = "attendance.unmatched.v1"
	// DefaultMemoryLimit holds two history batches of 50,000 rows (the
	// pusher peaked at about 280 MiB RSS under Go's default collector) and
	// leaves room under the 512 MiB limit of the Kubernetes manifest.
	DefaultMemoryLimit = "384MiB"
)

// Config is the pusher's YAML configuration (pusher run --config FILE).
type Config struct {
	StateDir string     `yaml:"state_dir"`
	HTTP     HTTPConfig `yaml:"http"`
	Log      LogConfig  `yaml:"log"`
	// MemoryLimit is the process's memory budget, written as GOMEMLIMIT
	// (384MiB by default): the garbage collector runs when the heap reaches
	// it, not whenever the heap doubles; "off" keeps Go's defaults, and
	// GOGC or GOMEMLIMIT in the environment win (internal/gcbudget).
	MemoryLimit string `yaml:"memory_limit"`
	// Kafka holds the brokers, SASL/TLS and topics (punches is consumed,
	// unmatched is produced; rejects and files are read by the history writer).
	Kafka          publish.Config `yaml:"kafka"`
	UnmatchedTopic string         `yaml:"unmatched_topic"` // default attendance.unmatched.v1
	GroupID        string         `yaml:"group_id"`        // default attnd-pusher
	// A batch of punches is processed when it holds BatchRows messages or
	// BatchInterval after its first one (defaults 5000 and 200ms).
	BatchRows     int           `yaml:"batch_rows"`
	BatchInterval time.Duration `yaml:"batch_interval"`
	// BlockedPause is how long pushing stays stopped after Daou answered 903
	// (service restricted) before one careful retry (default 30m).
	BlockedPause time.Duration `yaml:"blocked_pause"`

	ClickHouse history.ClickHouseConfig `yaml:"clickhouse"`
	// Migrate applies the ClickHouse migrations at start.
	Migrate bool `yaml:"migrate"`
	// History runs the history writer (punches, rejects, unmatched, files
	// topics into ClickHouse) in this process; default on.
	History HistoryConfig `yaml:"history"`

	Daou push.Config `yaml:"daou"`
	// Match holds the per-site normalization rules, the card key and the
	// directory providers (roster, daou-v1, daou-v3) with their refresh.
	Match  match.Config `yaml:"match"`
	Derive DeriveConfig `yaml:"derive"`
}

// HTTPConfig is the observability listener.
type HTTPConfig struct {
	Listen string `yaml:"listen"` // default 127.0.0.1:9465; "off" disables
}

// LogConfig sets the log level (debug, info, warn, error).
type LogConfig struct {
	Level string `yaml:"level"`
}

// HistoryConfig configures the embedded history writer: a topic's batch
// (all partitions) is inserted at BatchRows messages (default 50,000),
// BatchBytes of message keys and values (default 32 MiB) or BatchInterval
// after its first message (default 5s); one insert runs while the next
// batch fills.
type HistoryConfig struct {
	Enabled       *bool         `yaml:"enabled"`
	GroupID       string        `yaml:"group_id"`
	BatchRows     int           `yaml:"batch_rows"`
	BatchBytes    int           `yaml:"batch_bytes"`
	BatchInterval time.Duration `yaml:"batch_interval"`
}

// On reports whether the history writer runs in this process.
func (h HistoryConfig) On() bool { return h.Enabled == nil || *h.Enabled }

// DeriveConfig holds the default working-day rules and per-site overrides.
type DeriveConfig struct {
	RuleConfig `yaml:",inline"`
	Sites      map[string]RuleConfig `yaml:"sites"`
}

// RuleConfig is derive.Rules in YAML; zero values keep the default.
type RuleConfig struct {
	DayStart      string        `yaml:"day_start"` // "04:00" or a duration
	MaxShift      time.Duration `yaml:"max_shift"`
	DedupWindow   time.Duration `yaml:"dedup_window"`
	PassAsArrival *bool         `yaml:"pass_as_arrival"`
	TZ            string        `yaml:"tz"` // the site's zone for calendar days; default Asia/Seoul
}

// apply returns base with the set fields of rc.
func (rc RuleConfig) apply(base derive.Rules) (derive.Rules, error) {
	if rc.DayStart != "" {
		d, err := ParseClock(rc.DayStart)
		if err != nil {
			return base, fmt.Errorf("day_start: %w", err)
		}
		base.DayStart = d
	}
	if rc.MaxShift > 0 {
		base.MaxShift = rc.MaxShift
	}
	if rc.DedupWindow > 0 {
		base.DedupWindow = rc.DedupWindow
	}
	if rc.PassAsArrival != nil {
		base.PassAsArrival = *rc.PassAsArrival
	}
	if rc.TZ != "" {
		loc, err := time.LoadLocation(rc.TZ)
		if err != nil {
			return base, fmt.Errorf("tz: %w", err)
		}
		base.Location = loc
	}
	return base, base.Validate()
}

func seoul() *time.Location {
	if loc, err := time.LoadLocation("Asia/Seoul"); err == nil {
		return loc
	}
	return time.FixedZone("KST", 9*3600) // no DST in Korea since 1988
}

// ParseClock reads "04:00" or a Go duration ("4h").
func ParseClock(s string) (time.Duration, error) {
	if t, err := time.Parse("15:04", s); err == nil {
		return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d >= 24*time.Hour {
		return 0, fmt.Errorf("%q is not HH:MM or a duration under 24h", s)
	}
	return d, nil
}

// Rules returns the derivation rules of every configured site plus the
// default ("" key).
func (c Config) Rules() (map[string]derive.Rules, error) {
	base := derive.DefaultRules()
	// Punches read back from the history carry the instant, not the site's
	// offset, so the calendar needs a zone: the sites' default, Asia/Seoul.
	base.Location = seoul()
	def, err := c.Derive.RuleConfig.apply(base)
	if err != nil {
		return nil, fmt.Errorf("derive.%w", err)
	}
	out := map[string]derive.Rules{"": def}
	for site, rc := range c.Derive.Sites {
		r, err := rc.apply(def)
		if err != nil {
			return nil, fmt.Errorf("derive.sites.%s.%w", site, err)
		}
		out[site] = r
	}
	return out, nil
}

// LoadConfig reads, defaults and validates a config file. Secrets come from
// the environment (lookup, normally os.LookupEnv): DAOU_BASE_URL,
// DAOU_CLIENT_ID, DAOU_CLIENT_SECRET, CLICKHOUSE_PASSWORD (or
// clickhouse.password_env), KAFKA_BROKERS, kafka.sasl.password_env and
// match.card_key_env.
func LoadConfig(path string, lookup func(string) (string, bool)) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return ParseConfig(raw, lookup)
}

// ParseConfig is LoadConfig on bytes.
func ParseConfig(raw []byte, lookup func(string) (string, bool)) (Config, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if v, ok := lookup("KAFKA_BROKERS"); ok && strings.TrimSpace(v) != "" {
		c.Kafka.Brokers = strings.Split(strings.ReplaceAll(v, " ", ""), ",")
	}
	c.Kafka = c.Kafka.WithDefaults()
	if v, ok := lookup(c.Kafka.SASL.PasswordEnv); ok {
		c.Kafka.SASL.Password = v
	}
	c.ClickHouse = c.ClickHouse.WithEnv(lookup)
	c.Daou = c.Daou.WithEnv(lookup)
	c.applyDefaults()
	if err := c.Validate(lookup); err != nil {
		return Config{}, err
	}
	return c, nil
}

// HistoryTopics are the topics the history writer consumes: the kafka
// section's punches, rejects and files, and the pusher's unmatched topic.
func (c *Config) HistoryTopics() history.Topics {
	return history.Topics{Punches: c.Kafka.Topics.Punches, Rejects: c.Kafka.Topics.Rejects, Files: c.Kafka.Topics.Files, Unmatched: c.UnmatchedTopic}
}

func (c *Config) applyDefaults() {
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = DefaultListen
	}
	if c.MemoryLimit == "" {
		c.MemoryLimit = DefaultMemoryLimit
	}
	if c.GroupID == "" {
		c.GroupID = DefaultGroupID
	}
	if c.UnmatchedTopic == "" {
		c.UnmatchedTopic = DefaultUnmatched
	}
	if c.History.GroupID == "" {
		c.History.GroupID = history.DefaultGroupID
	}
	if c.BatchRows <= 0 {
		c.BatchRows = DefaultBatchRows
	}
	if c.BatchInterval <= 0 {
		c.BatchInterval = DefaultBatchInterval
	}
	if c.BlockedPause <= 0 {
		c.BlockedPause = DefaultBlockedPause
	}
	if c.Match.Directory.Refresh <= 0 {
		c.Match.Directory.Refresh = time.Hour
	}
}

// Validate checks every key; the error lists every problem, each naming its key.
func (c *Config) Validate(lookup func(string) (string, bool)) error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.StateDir == "" {
		bad("state_dir: required")
	}
	if err := gcbudget.Validate(c.MemoryLimit); err != nil {
		bad("memory_limit: %v", err)
	}
	if c.HTTP.Listen != "off" {
		if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
			bad("http.listen: %q is not host:port or off", c.HTTP.Listen)
		}
	}
	switch c.Log.Level {
	case "", "debug", "info", "warn", "error":
	default:
		bad("log.level: %q is not debug, info, warn or error", c.Log.Level)
	}
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.ClickHouse.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("clickhouse: %w", err))
	}
	if err := c.Daou.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("daou: %w", err))
	}
	if err := c.Match.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("match: %w", err))
	}
	if len(c.Match.Directory.Providers) == 0 {
		bad("match.directory.providers: at least one (roster, daou-v1 or daou-v3)")
	}
	if _, err := c.Match.CardKeys(lookup); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.Rules(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
