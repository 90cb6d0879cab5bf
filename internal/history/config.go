package history

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"gopkg.in/yaml.v3"
)

// DefaultPasswordEnv is the environment variable that overrides the password.
const DefaultPasswordEnv = "CLICKHOUSE_PASSWORD"

// ClickHouseConfig is the `clickhouse:` section of the pusher config.
//
//	clickhouse:
//	  addr: [ch1:9000, ch2:9000]
//	  protocol: native        # native (default) or http
//	  database: attendance
//	  username: attnd
//	  password: ""            # better: set CLICKHOUSE_PASSWORD
//	  cluster: ""             # set to use schemas/clickhouse/cluster (ON CLUSTER)
//	  tls: {enabled: true, ca_file: /etc/ssl/ch.pem, server_name: ch.example}
type ClickHouseConfig struct {
	Addr     []string `yaml:"addr"`
	Protocol string   `yaml:"protocol"`
	Database string   `yaml:"database"`
	Username string   `yaml:"username"`
	Password string   `yaml:"password"`
	// PasswordEnv names the environment variable that, when set, overrides
	// Password; empty means CLICKHOUSE_PASSWORD.
	PasswordEnv string `yaml:"password_env"`
	// Cluster, when set, makes migrations use the cluster variant
	// (ReplicatedReplacingMergeTree + Distributed, ON CLUSTER Cluster).
	Cluster     string        `yaml:"cluster"`
	TLS         TLSConfig     `yaml:"tls"`
	DialTimeout time.Duration `yaml:"dial_timeout"`
}

// TLSConfig enables TLS to ClickHouse (native secure port or https).
type TLSConfig struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ReadConfigFile reads only the `clickhouse:` section of a YAML config file;
// other sections and unknown keys are ignored. The password environment
// variable is applied.
func ReadConfigFile(path string) (ClickHouseConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return ClickHouseConfig{}, fmt.Errorf("read config: %w", err)
	}
	var doc struct {
		ClickHouse ClickHouseConfig `yaml:"clickhouse"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return ClickHouseConfig{}, fmt.Errorf("parse config %s: %w", path, err)
	}
	c := doc.ClickHouse.WithEnv(os.LookupEnv)
	if err := c.Validate(); err != nil {
		return ClickHouseConfig{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// WithEnv returns c with the password taken from the environment when the
// variable (PasswordEnv, default CLICKHOUSE_PASSWORD) is set.
func (c ClickHouseConfig) WithEnv(lookup func(string) (string, bool)) ClickHouseConfig {
	name := c.PasswordEnv
	if name == "" {
		name = DefaultPasswordEnv
	}
	if v, ok := lookup(name); ok {
		c.Password = v
	}
	return c
}

// Validate checks what Open and the migrations rely on.
func (c ClickHouseConfig) Validate() error {
	var errs []error
	if len(c.Addr) == 0 {
		errs = append(errs, errors.New("clickhouse.addr: at least one host:port is required"))
	}
	switch c.Protocol {
	case "", "native", "http":
	default:
		errs = append(errs, fmt.Errorf("clickhouse.protocol: %q is not native or http", c.Protocol))
	}
	if !identRe.MatchString(c.Database) || c.Database == "default" {
		errs = append(errs, fmt.Errorf("clickhouse.database: %q must be a plain identifier other than default", c.Database))
	}
	if c.Cluster != "" && c.Cluster != "{cluster}" && !identRe.MatchString(c.Cluster) {
		errs = append(errs, fmt.Errorf("clickhouse.cluster: %q must be a plain identifier or {cluster}", c.Cluster))
	}
	return errors.Join(errs...)
}

// Options builds the clickhouse-go options of c.
func (c ClickHouseConfig) Options() (*clickhouse.Options, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	o := &clickhouse.Options{
		Addr:        c.Addr,
		Protocol:    clickhouse.Native,
		Auth:        clickhouse.Auth{Database: c.Database, Username: c.Username, Password: c.Password},
		DialTimeout: c.DialTimeout,
	}
	if c.Protocol == "http" {
		o.Protocol = clickhouse.HTTP
	}
	if c.TLS.Enabled {
		tc := &tls.Config{ServerName: c.TLS.ServerName, InsecureSkipVerify: c.TLS.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
		if c.TLS.CAFile != "" {
			pem, err := os.ReadFile(c.TLS.CAFile)
			if err != nil {
				return nil, fmt.Errorf("clickhouse.tls.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("clickhouse.tls.ca_file %s: no certificate found", c.TLS.CAFile)
			}
			tc.RootCAs = pool
		}
		o.TLS = tc
	}
	return o, nil
}

// Open connects to ClickHouse and pings it. The database need not exist yet
// (Migrate creates it), so the connection's default database is left to the
// server and every statement of this package names the database explicitly.
func (c ClickHouseConfig) Open(ctx context.Context) (driver.Conn, error) {
	o, err := c.Options()
	if err != nil {
		return nil, err
	}
	o.Auth.Database = ""
	conn, err := clickhouse.Open(o)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %v: %w", c.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("ping clickhouse %v (%s): %w", c.Addr, c.protocolName(), err)
	}
	return conn, nil
}

func (c ClickHouseConfig) protocolName() string {
	if c.Protocol == "" {
		return "native"
	}
	return c.Protocol
}
