package match

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// ParseConfig reads a matcher configuration (the layout of
// testdata/match.yaml), rejecting unknown keys, and validates its rules.
func ParseConfig(raw []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("match: config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// LoadConfig is ParseConfig on a file.
func LoadConfig(path string) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("match: config: %w", err)
	}
	return ParseConfig(raw)
}

// Provider kinds of DirectoryConfig.
const (
	ProviderRoster = "roster"  // a CSV roster file (RosterFile)
	ProviderDaouV1 = "daou-v1" // POST /public/v1/account, body credentials
	ProviderDaouV3 = "daou-v3" // GET .../organization-chart/user/list, bearer token
)

// DirectoryConfig lists the directory's providers by priority (see
// NewDirectory) and its refresh period.
//
//	directory:
//	  refresh: 1h
//	  providers:
//	    - kind: daou-v3
//	    - kind: roster        # cards and aliases on top of the Daou accounts
//	      path: /etc/attnd/roster.csv
type DirectoryConfig struct {
	Refresh   time.Duration    `yaml:"refresh" json:"refresh"` // default 1h
	Providers []ProviderConfig `yaml:"providers" json:"providers"`
}

// ProviderConfig is one directory provider.
type ProviderConfig struct {
	Kind string `yaml:"kind" json:"kind"` // roster, daou-v1 or daou-v3
	Path string `yaml:"path" json:"path"` // roster only
}

func (d DirectoryConfig) validate() error {
	if d.Refresh < 0 {
		return fmt.Errorf("match: directory.refresh: negative %s", d.Refresh)
	}
	for i, p := range d.Providers {
		switch p.Kind {
		case ProviderRoster:
			if p.Path == "" {
				return fmt.Errorf("match: directory.providers[%d]: roster needs a path", i)
			}
		case ProviderDaouV1, ProviderDaouV3:
			if p.Path != "" {
				return fmt.Errorf("match: directory.providers[%d]: %s takes no path", i, p.Kind)
			}
		default:
			return fmt.Errorf("match: directory.providers[%d]: unknown kind %q (want roster, daou-v1 or daou-v3)", i, p.Kind)
		}
	}
	return nil
}

// Build builds the configured providers. cardKeys hash roster cards (see
// Config.CardKeys); daou and hc serve the Daou kinds, tokens the v3 one.
func (d DirectoryConfig) Build(cardKeys [][]byte, daou DaouConfig, tokens TokenSource, hc *http.Client) ([]Provider, error) {
	if err := d.validate(); err != nil {
		return nil, err
	}
	if len(d.Providers) == 0 {
		return nil, errors.New("match: directory.providers: none configured")
	}
	var out []Provider
	for _, p := range d.Providers {
		switch p.Kind {
		case ProviderRoster:
			out = append(out, RosterFile(p.Path, cardKeys...))
		case ProviderDaouV1:
			out = append(out, DaouV1(daou, hc))
		case ProviderDaouV3:
			if tokens == nil {
				return nil, errors.New("match: directory: daou-v3 needs a token source")
			}
			out = append(out, DaouV3(daou, tokens, hc))
		}
	}
	return out, nil
}
