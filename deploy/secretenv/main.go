//go:build unix

// Command secretenv exports secret files as environment variables, then
// executes a program in its place:
//
//	secretenv [-dir DIR] [-require NAME,...] -- PROGRAM [ARG...]
//
// The ingest and the pusher read their secrets from the environment
// (password_env, card_key_env, CLICKHOUSE_PASSWORD, DAOU_CLIENT_SECRET, ...).
// Docker/compose secrets and systemd credentials arrive as files instead.
// secretenv bridges the two inside a distroless image, which has no shell:
// every regular file of DIR whose name is a valid environment variable name
// (A-Z, 0-9, _, not starting with a digit) becomes that variable, with one
// trailing newline removed. Other files are ignored. A file's value replaces
// a variable of the same name already in the environment.
//
// DIR defaults to $CREDENTIALS_DIRECTORY (systemd LoadCredential=) when set,
// else /run/secrets. A missing DIR is not an error (Kubernetes passes secrets
// as environment variables directly), unless -require names a variable that
// ends up unset or empty.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// maxSecret bounds one secret file; anything larger is a mistake (a mounted
// directory of certificates, say), not a password.
const maxSecret = 64 << 10

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stderr, syscall.Exec))
}

type execFunc func(argv0 string, argv []string, envv []string) error

func run(args, environ []string, stderr io.Writer, execve execFunc) int {
	fs := flag.NewFlagSet("secretenv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", defaultDir(environ), "directory of secret files")
	require := fs.String("require", "", "comma-separated variables that must be set and non-empty")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	argv := fs.Args()
	if len(argv) == 0 {
		fmt.Fprintln(stderr, "usage: secretenv [-dir DIR] [-require NAME,...] -- PROGRAM [ARG...]")
		return 2
	}
	env, err := Load(*dir, environ)
	if err != nil {
		fmt.Fprintln(stderr, "secretenv:", err)
		return 1
	}
	if *require != "" {
		for _, name := range strings.Split(*require, ",") {
			if name = strings.TrimSpace(name); name != "" && lookup(env, name) == "" {
				fmt.Fprintf(stderr, "secretenv: %s is not set (no file %s in %s and not in the environment)\n", name, name, *dir)
				return 1
			}
		}
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		fmt.Fprintln(stderr, "secretenv:", err)
		return 127
	}
	err = execve(path, argv, env)
	fmt.Fprintf(stderr, "secretenv: exec %s: %v\n", path, err)
	return 126
}

func defaultDir(environ []string) string {
	if d := lookup(environ, "CREDENTIALS_DIRECTORY"); d != "" {
		return d
	}
	return "/run/secrets"
}

func lookup(env []string, name string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == name {
			return v
		}
	}
	return ""
}

// Load returns environ with one variable per secret file of dir set.
func Load(dir string, environ []string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return environ, nil
	}
	if err != nil {
		return nil, err
	}
	set := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		if !envName.MatchString(name) {
			continue
		}
		p := filepath.Join(dir, name)
		st, err := os.Stat(p) // follows the symlinks Kubernetes and compose use
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		if st.Size() > maxSecret {
			return nil, fmt.Errorf("%s: %d bytes is too large for a secret", p, st.Size())
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		v := strings.TrimSuffix(string(b), "\n")
		v = strings.TrimSuffix(v, "\r")
		if strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("%s: contains a NUL byte", p)
		}
		set[name] = v
	}
	out := make([]string, 0, len(environ)+len(set))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if _, replaced := set[k]; !replaced {
			out = append(out, kv)
		}
	}
	for k, v := range set {
		out = append(out, k+"="+v)
	}
	return out, nil
}
