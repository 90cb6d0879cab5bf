package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/attendance-pipeline/attnd/internal/gcbudget"
	"github.com/attendance-pipeline/attnd/internal/parsers"
	"github.com/attendance-pipeline/attnd/internal/parsers/parsekit"
	"github.com/attendance-pipeline/attnd/internal/publish"
	"github.com/attendance-pipeline/attnd/internal/source"
	"github.com/attendance-pipeline/attnd/internal/source/dirsrc"
	"gopkg.in/yaml.v3"
)

// Config is the ingest's YAML configuration.
type Config struct {
	StateDir string     `yaml:"state_dir"`
	HTTP     HTTPConfig `yaml:"http"`
	Log      LogConfig  `yaml:"log"`
	// MemoryLimit is the process's memory budget, written as GOMEMLIMIT
	// (256MiB by default): the garbage collector runs when the heap reaches
	// it, not whenever the heap doubles; "off" keeps Go's defaults, and
	// GOGC or GOMEMLIMIT in the environment win (internal/gcbudget).
	MemoryLimit string          `yaml:"memory_limit"`
	Kafka       publish.Config  `yaml:"kafka"`
	Sites       map[string]Site `yaml:"sites"`
	Sources     []source.Spec   `yaml:"sources"`
	// Retry is how long a failed file waits before it is tried again (default 30s).
	Retry time.Duration `yaml:"retry"`
}

// HTTPConfig is the observability listener.
type HTTPConfig struct {
	Listen string `yaml:"listen"` // default 127.0.0.1:9464; "off" disables
}

// LogConfig sets the log level (debug, info, warn, error).
type LogConfig struct {
	Level string `yaml:"level"`
}

// Site holds per-site parse options.
type Site struct {
	TZ         string          `yaml:"tz"`           // default Asia/Seoul
	Codes      *parsekit.Codes `yaml:"codes"`        // overrides of the default code tables, per table
	CardKeyEnv string          `yaml:"card_key_env"` // env var holding the card HMAC key
}

// DefaultMemoryLimit is memory_limit's default: the ingest's live heap is a
// few MB, its peak RSS under the old collector settings was about 230 MiB.
const DefaultMemoryLimit = "256MiB"

// Source defaults.
const (
	DefaultPollInterval = 30 * time.Second
	DefaultMinAge       = 5 * time.Second
	DefaultParallel     = 4
	DefaultListen       = "127.0.0.1:9464"
)

// LoadConfig reads, defaults and validates a config file. Secrets come from
// the environment (lookup, normally os.LookupEnv): KAFKA_SASL_PASSWORD (or
// kafka.sasl.password_env), KAFKA_BROKERS (comma-separated, overrides
// kafka.brokers), each source's password_env and each site's card_key_env.
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
	c.applyDefaults()
	if err := c.Validate(lookup); err != nil {
		return Config{}, err
	}
	return c, nil
}

func (c *Config) applyDefaults() {
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = DefaultListen
	}
	if c.Retry <= 0 {
		c.Retry = 30 * time.Second
	}
	if c.MemoryLimit == "" {
		c.MemoryLimit = DefaultMemoryLimit
	}
	for i := range c.Sources {
		s := &c.Sources[i]
		if s.PollInterval <= 0 {
			s.PollInterval = DefaultPollInterval
		}
		if s.MinAge == 0 {
			s.MinAge = DefaultMinAge
		}
		if s.Vendor == "" {
			s.Vendor = "auto"
		}
		if s.Layout == "" {
			s.Layout = "auto"
		}
		if s.After == "" {
			s.After = "leave"
		}
		if s.Parallel == 0 {
			s.Parallel = DefaultParallel
		}
		if s.TZ == "" {
			if site, ok := c.Sites[s.Site]; ok && site.TZ != "" {
				s.TZ = site.TZ
			}
		}
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
	if c.Kafka.SASL.Mechanism != "" && c.Kafka.SASL.Password == "" {
		bad("kafka.sasl: password env %s is not set", c.Kafka.SASL.PasswordEnv)
	}
	for name, s := range c.Sites {
		if s.TZ != "" {
			if _, err := time.LoadLocation(s.TZ); err != nil {
				bad("sites.%s.tz: %q is not a time zone", name, s.TZ)
			}
		}
		if s.CardKeyEnv != "" {
			if v, ok := lookup(s.CardKeyEnv); !ok || v == "" {
				bad("sites.%s.card_key_env: environment variable %s is not set", name, s.CardKeyEnv)
			}
		}
		if s.Codes != nil {
			for k, m := range map[string]map[string]string{
				"caps_event_modes":  modes(s.Codes.CapsEventModes),
				"caps_tenter_modes": modes(s.Codes.CapsTenterModes),
				"secom_flag1_modes": modes(s.Codes.SecomFlag1Modes),
				"telecop_modes":     modes(s.Codes.TelecopModes),
			} {
				for code, mode := range m {
					if !validMode(mode) {
						bad("sites.%s.codes.%s[%q]: %q is not in, out, pass, outing, return or unknown", name, k, code, mode)
					}
				}
			}
		}
	}
	if len(c.Sources) == 0 {
		bad("sources: at least one source is required")
	}
	names := map[string]int{}
	for i, s := range c.Sources {
		key := fmt.Sprintf("sources[%d]", i)
		if s.Name == "" {
			bad("%s.name: required", key)
		} else if j, dup := names[s.Name]; dup {
			bad("%s.name: %q is also sources[%d].name", key, s.Name, j)
		} else {
			names[s.Name] = i
		}
		if s.Site == "" {
			bad("%s.site: required", key)
		}
		switch s.Type {
		case "dir":
			if s.Path == "" {
				bad("%s.path: required for a dir source", key)
			}
		case "ftp":
			u, err := url.Parse(s.URL)
			switch {
			case s.URL == "":
				bad("%s.url: required for an ftp source", key)
			case err != nil || (u.Scheme != "ftp" && u.Scheme != "ftps") || u.Host == "":
				bad("%s.url: %q is not ftp://user@host:port/path", key, redactURL(s.URL))
			case u.User != nil:
				if _, has := u.User.Password(); has {
					bad("%s.url: a password in the URL is not allowed; use password_env", key)
				}
			}
			if s.PasswordEnv != "" {
				if _, ok := lookup(s.PasswordEnv); !ok {
					bad("%s.password_env: environment variable %s is not set", key, s.PasswordEnv)
				}
			}
			switch s.TLS {
			case "", "explicit", "none":
			default:
				bad("%s.tls: %q is not explicit or none", key, s.TLS)
			}
		case "":
			bad("%s.type: required (dir or ftp)", key)
		default:
			bad("%s.type: %q is not dir or ftp", key, s.Type)
		}
		switch s.Vendor {
		case "auto", "adtcaps", "secom", "telecop":
		default:
			bad("%s.vendor: %q is not auto, adtcaps, secom or telecop", key, s.Vendor)
		}
		if s.Layout != "auto" {
			if l, ok := parsers.Lookup(s.Layout); !ok {
				bad("%s.layout: %q is not a known layout", key, s.Layout)
			} else if s.Vendor != "auto" && l.Vendor != s.Vendor {
				bad("%s.layout: %s is a %s layout, not %s", key, s.Layout, l.Vendor, s.Vendor)
			}
		}
		if _, err := dirsrc.ParseAfter(s.After); err != nil {
			bad("%s.after: %v", key, err)
		}
		if err := dirsrc.ValidGlobs(s.Include); err != nil {
			bad("%s.include: %v", key, err)
		}
		if err := dirsrc.ValidGlobs(s.Exclude); err != nil {
			bad("%s.exclude: %v", key, err)
		}
		if s.TZ != "" {
			if _, err := time.LoadLocation(s.TZ); err != nil {
				bad("%s.tz: %q is not a time zone", key, s.TZ)
			}
		}
		if s.MinAge < 0 {
			bad("%s.min_age: %v is negative", key, s.MinAge)
		}
		if s.Workers < 0 {
			bad("%s.workers: %d is negative", key, s.Workers)
		}
		if s.Parallel < 0 {
			bad("%s.parallel: %d is negative", key, s.Parallel)
		}
	}
	return errors.Join(errs...)
}

func modes[M ~string](m map[string]M) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

func validMode(m string) bool {
	switch m {
	case "in", "out", "pass", "outing", "return", "unknown":
		return true
	}
	return false
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// codesFor merges a site's overrides into the default tables, table by table.
func codesFor(site Site) parsekit.Codes {
	c := parsekit.DefaultCodes()
	o := site.Codes
	if o == nil {
		return c
	}
	if o.CapsEventModes != nil {
		c.CapsEventModes = o.CapsEventModes
	}
	if o.CapsTenterModes != nil {
		c.CapsTenterModes = o.CapsTenterModes
	}
	if o.CapsTenterSuccess != nil {
		c.CapsTenterSuccess = o.CapsTenterSuccess
	}
	if o.SecomFlag1Modes != nil {
		c.SecomFlag1Modes = o.SecomFlag1Modes
	}
	if o.SecomDefaultMode != "" {
		c.SecomDefaultMode = o.SecomDefaultMode
	}
	if o.TelecopModes != nil {
		c.TelecopModes = o.TelecopModes
	}
	if o.TelecopSuccess != nil {
		c.TelecopSuccess = o.TelecopSuccess
	}
	return c
}
