// Package source defines what the ingest reads drops from: a local folder or
// an FTP/FTPS server. A Source lists files that are ready (stable, old enough,
// matching the globs), opens them, and applies the after-processing action
// only when the ingest says the file is done (every event acknowledged).
package source

import (
	"context"
	"io"
	"time"
)

// File is a candidate drop as the source sees it.
type File struct {
	Source  string // source name
	Path    string // path inside the source (absolute for dir, server path for ftp)
	Size    int64
	ModTime time.Time // in the site's zone
}

// Source is one configured drop location. Implementations are not required
// to be safe for concurrent use; the ingest drives each from one goroutine.
type Source interface {
	Name() string
	// List returns the files that are ready to read now.
	List(ctx context.Context) ([]File, error)
	// Open reads a file's content; the caller closes it.
	Open(ctx context.Context, f File) (io.ReadCloser, error)
	// Finish applies the after-processing action (leave, move:DIR, delete).
	Finish(ctx context.Context, f File) error
	// Ping checks that the source is reachable (for /readyz).
	Ping(ctx context.Context) error
	// Notify signals that new files may be present (nil if the source only polls).
	Notify() <-chan struct{}
	Close() error
}

// Spec is one source's configuration (the `sources:` list of the ingest config).
type Spec struct {
	Name         string        `yaml:"name"`
	Type         string        `yaml:"type"` // dir | ftp
	Path         string        `yaml:"path"` // dir: folder; ftp: taken from URL path when empty
	URL          string        `yaml:"url"`  // ftp://user@host:21/path
	PasswordEnv  string        `yaml:"password_env"`
	TLS          string        `yaml:"tls"` // explicit | none
	TLSInsecure  bool          `yaml:"tls_insecure_skip_verify"`
	TLSCAFile    string        `yaml:"tls_ca_file"`
	Site         string        `yaml:"site"`
	TZ           string        `yaml:"tz"`     // site zone, default Asia/Seoul
	Vendor       string        `yaml:"vendor"` // auto | adtcaps | secom | telecop
	Layout       string        `yaml:"layout"` // auto | layout name
	Include      []string      `yaml:"include"`
	Exclude      []string      `yaml:"exclude"`
	After        string        `yaml:"after"` // leave | move:/dir | delete
	PollInterval time.Duration `yaml:"poll_interval"`
	MinAge       time.Duration `yaml:"min_age"`
	Timeout      time.Duration `yaml:"timeout"` // per FTP operation
	// Workers sizes an FTP source's connection pool (Workers+1). Files are
	// listed, opened (downloaded) and finished one at a time in listing
	// order whatever the type.
	Workers int `yaml:"workers"`
	// Parallel is how many files of the source are parsed and published at
	// the same time, each with its own ledger entry (default 4; 1 is one
	// file after the other). Files with the same content never overlap.
	Parallel int `yaml:"parallel"`
}
