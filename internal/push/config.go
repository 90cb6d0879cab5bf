package push

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// DefaultBaseURL is the only OpenAPI host (daou-openapi.md §1.1).
const DefaultBaseURL = "https://api.daouoffice.com"

// Config is the `daou:` section of the pusher configuration.
type Config struct {
	BaseURL  string `yaml:"base_url" json:"base_url"`   // default https://api.daouoffice.com; env DAOU_BASE_URL
	ClientID string `yaml:"client_id" json:"client_id"` // env DAOU_CLIENT_ID
	// ClientIDEnv names an environment variable holding the client id, read
	// by WithEnv when client_id is empty.
	ClientIDEnv  string `yaml:"client_id_env" json:"client_id_env"`
	ClientSecret string `yaml:"client_secret" json:"-"` // env DAOU_CLIENT_SECRET; prefer client_secret_env
	// ClientSecretEnv names an environment variable holding the secret; it
	// is read by WithEnv when client_secret is empty.
	ClientSecretEnv string `yaml:"client_secret_env" json:"client_secret_env"`
	// RatePerSecond is the client-side call limit (default 5; negative =
	// unlimited, for tests against the simulator). It is halved on
	// 905 and recovers slowly on success. ASSUMPTION: Daou's limit is unknown (§9).
	RatePerSecond float64 `yaml:"rate_per_second" json:"rate_per_second"`
	// Timeout bounds one HTTP call (default 30s; integrators use 15–30 s, §9).
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
	// MaxAttempts bounds the sends of one record on 905, 5xx and transport
	// errors before it is reported failed (default 5).
	MaxAttempts int `yaml:"max_attempts" json:"max_attempts"`
	// BackoffBase and BackoffMax shape the exponential backoff with full
	// jitter between attempts (defaults 500ms and 30s).
	BackoffBase time.Duration `yaml:"backoff_base" json:"backoff_base"`
	BackoffMax  time.Duration `yaml:"backoff_max" json:"backoff_max"`
	// VerifyAfter is how long a send whose outcome is unknown (crash, timeout,
	// dropped connection, 5xx) may take to become visible in the attnd-v2 read
	// API. Before that the record is neither resent nor presumed lost; after it
	// a record still not visible is resent. Default 6h (§4.3: the middle DB
	// syncs at most 4 times a day). Set 0 only against a server whose read API
	// reflects writes at once (the simulator with SyncOnWrite).
	VerifyAfter *time.Duration `yaml:"verify_after" json:"verify_after"`
	Fields      FieldConfig    `yaml:"fields" json:"fields"`
	// ProductName etc. are the optional traceability body fields (§1.3);
	// empty = not sent. ASSUMPTION: attnd/record accepts them like other APIs.
	ProductName       string `yaml:"product_name" json:"product_name"`
	ProductVersion    string `yaml:"product_version" json:"product_version"`
	ClientCompanyName string `yaml:"client_company_name" json:"client_company_name"`
}

// FieldConfig names and formats the attnd/record fields that Daou has not
// published (daou-openapi.md §4.2). Every default is an ASSUMPTION, kept in
// configuration so the real table can be dropped in without a code change.
// Layouts are Go time layouts.
type FieldConfig struct {
	// WorkingDayFormat: default "2006-01-02" (ASSUMPTION: the read API's date format; could be 20060102).
	WorkingDayFormat string `yaml:"working_day_format" json:"working_day_format"`
	// ClockIn: default "startWorkTime" (ASSUMPTION: the read API's element name).
	ClockIn string `yaml:"clock_in" json:"clock_in"`
	// ClockOut: default "endWorkTime" (ASSUMPTION).
	ClockOut string `yaml:"clock_out" json:"clock_out"`
	// TimeFormat: default "2006-01-02 15:04:05" (ASSUMPTION: a full local
	// datetime, so a clock-out after midnight keeps its own date).
	TimeFormat string `yaml:"time_format" json:"time_format"`
	// OmitNull leaves an absent clock time out of the body instead of sending
	// null (default false = null). ASSUMPTION either way.
	OmitNull bool `yaml:"omit_null" json:"omit_null"`
	// Type and TypeValue: attendance type field and its value; default ""
	// = not sent (ASSUMPTION: the type field is unpublished, §5).
	Type      string `yaml:"type" json:"type"`
	TypeValue string `yaml:"type_value" json:"type_value"`
	// Location is the time zone of the wall-clock times (default
	// Asia/Seoul; ASSUMPTION: KST, §12.13).
	Location string `yaml:"location" json:"location"`
}

func (f FieldConfig) withDefaults() FieldConfig {
	if f.WorkingDayFormat == "" {
		f.WorkingDayFormat = "2006-01-02"
	}
	if f.ClockIn == "" {
		f.ClockIn = "startWorkTime"
	}
	if f.ClockOut == "" {
		f.ClockOut = "endWorkTime"
	}
	if f.TimeFormat == "" {
		f.TimeFormat = "2006-01-02 15:04:05"
	}
	if f.Location == "" {
		f.Location = "Asia/Seoul"
	}
	return f
}

// WithDefaults fills the documented defaults.
func (c Config) WithDefaults() Config {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	c.BaseURL = strings.TrimRight(strings.TrimSpace(c.BaseURL), "/")
	if c.RatePerSecond == 0 {
		c.RatePerSecond = 5
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 5
	}
	if c.BackoffBase == 0 {
		c.BackoffBase = 500 * time.Millisecond
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = 30 * time.Second
	}
	if c.VerifyAfter == nil {
		d := 6 * time.Hour
		c.VerifyAfter = &d
	}
	c.Fields = c.Fields.withDefaults()
	return c
}

// WithEnv applies DAOU_BASE_URL, DAOU_CLIENT_ID and DAOU_CLIENT_SECRET (they
// win over the file), then client_secret_env when no secret is set yet.
func (c Config) WithEnv(lookup func(string) (string, bool)) Config {
	if v, ok := lookup("DAOU_BASE_URL"); ok && v != "" {
		c.BaseURL = v
	}
	if v, ok := lookup("DAOU_CLIENT_ID"); ok && v != "" {
		c.ClientID = v
	}
	if v, ok := lookup("DAOU_CLIENT_SECRET"); ok && v != "" {
		c.ClientSecret = v
	}
	if c.ClientID == "" && c.ClientIDEnv != "" {
		if v, ok := lookup(c.ClientIDEnv); ok {
			c.ClientID = v
		}
	}
	if c.ClientSecret == "" && c.ClientSecretEnv != "" {
		if v, ok := lookup(c.ClientSecretEnv); ok {
			c.ClientSecret = v
		}
	}
	return c
}

// Validate checks the configuration after defaults; errors never contain the secret.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("daou.base_url %q is not an http(s) URL", c.BaseURL))
	}
	if c.ClientID == "" {
		errs = append(errs, errors.New("daou.client_id is empty (or set DAOU_CLIENT_ID)"))
	}
	if c.ClientSecret == "" {
		errs = append(errs, errors.New("daou.client_secret is empty (set DAOU_CLIENT_SECRET or daou.client_secret_env)"))
	}
	if c.Timeout < 0 || c.MaxAttempts < 0 || *c.VerifyAfter < 0 {
		errs = append(errs, errors.New("daou: timeout, max_attempts and verify_after must not be negative"))
	}
	if c.BackoffMax < c.BackoffBase {
		errs = append(errs, errors.New("daou.backoff_max is below backoff_base"))
	}
	if _, err := loadLocation(c.Fields.Location); err != nil {
		errs = append(errs, fmt.Errorf("daou.fields.location: %w", err))
	}
	if c.Fields.ClockIn == c.Fields.ClockOut || reserved[c.Fields.ClockIn] || reserved[c.Fields.ClockOut] || reserved[c.Fields.Type] {
		errs = append(errs, errors.New("daou.fields: clock_in, clock_out and type must be distinct and not employeeNumber, workingDay, clientId or clientSecret"))
	}
	return errors.Join(errs...)
}

var reserved = map[string]bool{"employeeNumber": true, "workingDay": true, "clientId": true, "clientSecret": true}

func loadLocation(name string) (*time.Location, error) {
	if name == "KST" {
		return time.FixedZone("KST", 9*3600), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil && name == "Asia/Seoul" {
		// No tzdata on the host: KST has had no DST since 1988.
		return time.FixedZone("KST", 9*3600), nil
	}
	return loc, err
}
