package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"valuerx/store"
)

// storeConfig is where decisions, feedback and jti claims are kept. In the file it is either a
// SQLite path (`store: var/valuerx.db`, as before) or a mapping:
//
//	store:
//	  driver: postgres                  # sqlite (default) | postgres
//	  dsnFile: /etc/valuerx/pg.dsn      # or dsnEnv: VALUERX_PG_DSN; dsn: only without a password
//	  maxConns: 8
//	  retentionDays: 730                # 0: keep everything
//
// The PostgreSQL connection string never sits in the YAML with a password in it: it comes from a
// file or an environment variable, or names a passfile (libpq's PGPASSFILE / passfile=).
type storeConfig struct {
	// Driver is "sqlite" (default) or "postgres".
	Driver string `yaml:"driver"`
	// Path is the SQLite file ("" records nothing).
	Path string `yaml:"path"`
	// DSN is a PostgreSQL connection string (libpq keywords or a postgres:// URL) without a
	// password; DSNFile and DSNEnv name a file or an environment variable holding one that may
	// carry it. Exactly one of the three for postgres.
	DSN     string `yaml:"dsn"`
	DSNFile string `yaml:"dsnFile"`
	DSNEnv  string `yaml:"dsnEnv"`
	// MaxConns bounds the PostgreSQL pool of this instance (default 8).
	MaxConns int `yaml:"maxConns"`
	// RetentionDays deletes decisions created, and feedback received, more than this many days
	// ago, and jti claims once expired; at start and every RetentionEvery (default 1h). 0: off.
	RetentionDays  int      `yaml:"retentionDays"`
	RetentionEvery duration `yaml:"retentionEvery"`
	// Synchronous is SQLite's durability: "normal" (default; WAL: a commit survives the process
	// being killed, the last commits may be lost to a power cut or a crash of the machine) or
	// "full" (an fsync per group commit: survives those too). PostgreSQL follows the server's
	// own synchronous_commit.
	Synchronous string `yaml:"synchronous"`
}

const (
	driverSQLite   = "sqlite"
	driverPostgres = "postgres"
)

// UnmarshalYAML accepts a scalar (the SQLite path) or the mapping. Unknown keys are errors
// (yaml's KnownFields does not reach a custom unmarshaler).
func (s *storeConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var path string
		if err := n.Decode(&path); err != nil {
			return fmt.Errorf("line %d: store must be a SQLite path or a mapping", n.Line)
		}
		*s = storeConfig{Driver: driverSQLite, Path: path}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: store must be a SQLite path or a mapping", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch k := n.Content[i]; k.Value {
		case "driver", "path", "dsn", "dsnFile", "dsnEnv", "maxConns", "retentionDays", "retentionEvery", "synchronous":
		default:
			return fmt.Errorf("line %d: field %s not found in store", k.Line, k.Value)
		}
	}
	type plain storeConfig
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*s = storeConfig(p)
	if s.Driver == "" {
		s.Driver = driverSQLite
	}
	return s.check()
}

// check refuses what cannot work, before anything is opened.
func (s storeConfig) check() error {
	switch s.Driver {
	case driverSQLite:
		if s.DSN != "" || s.DSNFile != "" || s.DSNEnv != "" {
			return errors.New("store: dsn, dsnFile and dsnEnv are for driver: postgres")
		}
		if s.Synchronous != "" && s.Synchronous != "normal" && s.Synchronous != "full" {
			return fmt.Errorf("store: synchronous %q: normal or full", s.Synchronous)
		}
	case driverPostgres:
		if s.Synchronous != "" {
			return errors.New("store: synchronous is SQLite's; PostgreSQL follows the server's synchronous_commit")
		}
		if s.Path != "" {
			return errors.New("store: path is the SQLite file; driver postgres takes dsn, dsnFile or dsnEnv")
		}
		n := 0
		for _, v := range []string{s.DSN, s.DSNFile, s.DSNEnv} {
			if v != "" {
				n++
			}
		}
		if n != 1 {
			return errors.New("store: driver postgres needs exactly one of dsnFile, dsnEnv or dsn")
		}
		if s.DSN != "" && dsnHasPassword(s.DSN) {
			return errors.New("store: dsn holds a password; put the connection string in dsnFile or dsnEnv, or use a passfile")
		}
	default:
		return fmt.Errorf("store: driver %q: sqlite or postgres", s.Driver)
	}
	if s.RetentionDays < 0 {
		return errors.New("store: retentionDays must be 0 (keep everything) or more")
	}
	if s.MaxConns < 0 {
		return errors.New("store: maxConns must not be negative")
	}
	return nil
}

// enabled reports whether anything is recorded.
func (s storeConfig) enabled() bool {
	return s.Driver == driverPostgres || s.Path != ""
}

// dsnHasPassword reports whether a connection string carries a password: a password keyword, or
// the password part of a URL's user info.
func dsnHasPassword(dsn string) bool {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return true // cannot tell: treat as secret
		}
		if _, ok := u.User.Password(); ok {
			return true
		}
		return u.Query().Has("password")
	}
	for _, f := range strings.Fields(dsn) {
		if k, _, ok := strings.Cut(f, "="); ok && strings.TrimSpace(k) == "password" {
			return true
		}
	}
	return strings.Contains(dsn, "password")
}

// postgresDSN reads the connection string from where the configuration says it is.
func (s storeConfig) postgresDSN() (string, error) {
	switch {
	case s.DSNFile != "":
		b, err := os.ReadFile(s.DSNFile)
		if err != nil {
			return "", fmt.Errorf("store.dsnFile: %w", err)
		}
		dsn := strings.TrimSpace(string(b))
		if dsn == "" {
			return "", fmt.Errorf("store.dsnFile %s is empty", s.DSNFile)
		}
		return dsn, nil
	case s.DSNEnv != "":
		dsn := strings.TrimSpace(os.Getenv(s.DSNEnv))
		if dsn == "" {
			return "", fmt.Errorf("store.dsnEnv: environment variable %s is not set", s.DSNEnv)
		}
		return dsn, nil
	}
	return s.DSN, nil
}

// retainer is a store that deletes what is past the retention period.
type retainer interface {
	store.Store
	DeleteBefore(ctx context.Context, cutoff, now time.Time) (store.Deleted, error)
}

// openStore opens the configured store; nil when nothing is recorded.
func openStore(ctx context.Context, s storeConfig, logger *slog.Logger) (retainer, error) {
	switch s.Driver {
	case driverPostgres:
		dsn, err := s.postgresDSN()
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute) // a second instance may wait for the first's migration
		defer cancel()
		st, err := store.OpenPostgres(ctx, dsn, store.PostgresOptions{MaxConns: int32(s.MaxConns)})
		if err != nil {
			return nil, err
		}
		v, err := st.SchemaVersion(ctx)
		if err != nil {
			st.Close()
			return nil, err
		}
		logger.Info("store: postgres", "server", st.Describe(), "schema_version", v)
		return st, nil
	default:
		if s.Path == "" {
			return nil, nil
		}
		if dir := filepath.Dir(s.Path); dir != "." {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("store: %w", err)
			}
		}
		return store.OpenSQLiteOptions(s.Path, store.SQLiteOptions{FullSync: s.Synchronous == "full"})
	}
}
