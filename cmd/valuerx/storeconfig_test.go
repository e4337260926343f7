package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The store key: the old scalar form is a SQLite path; the mapping chooses the driver, and a
// PostgreSQL password never sits in the YAML.
func TestStoreConfig(t *testing.T) {
	dir := t.TempDir()
	load := func(body string) (fileConfig, error) {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return loadConfig(p)
	}
	for _, c := range []struct {
		name, yaml string
		want       storeConfig
		err        string
	}{
		{name: "scalar is a SQLite path", yaml: "store: var/x.db\n", want: storeConfig{Driver: "sqlite", Path: "var/x.db"}},
		{name: "empty scalar records nothing", yaml: "store: \"\"\n", want: storeConfig{Driver: "sqlite"}},
		{name: "sqlite mapping", yaml: "store: {path: var/y.db, retentionDays: 400}\n", want: storeConfig{Driver: "sqlite", Path: "var/y.db", RetentionDays: 400}},
		{name: "postgres from the environment", yaml: "store: {driver: postgres, dsnEnv: VALUERX_PG_DSN, maxConns: 4, retentionDays: 730}\n",
			want: storeConfig{Driver: "postgres", DSNEnv: "VALUERX_PG_DSN", MaxConns: 4, RetentionDays: 730}},
		{name: "postgres dsn without a password", yaml: "store: {driver: postgres, dsn: \"host=/run/postgresql dbname=valuerx passfile=/etc/valuerx/pgpass\"}\n",
			want: storeConfig{Driver: "postgres", DSN: "host=/run/postgresql dbname=valuerx passfile=/etc/valuerx/pgpass"}},
		{name: "password keyword refused", yaml: "store: {driver: postgres, dsn: \"host=db password=hunter2\"}\n", err: "holds a password"},
		{name: "password in a URL refused", yaml: "store: {driver: postgres, dsn: \"postgres://u:hunter2@db/valuerx\"}\n", err: "holds a password"},
		{name: "password query refused", yaml: "store: {driver: postgres, dsn: \"postgres://u@db/valuerx?password=hunter2\"}\n", err: "holds a password"},
		{name: "two sources", yaml: "store: {driver: postgres, dsnEnv: A, dsnFile: /b}\n", err: "exactly one"},
		{name: "no source", yaml: "store: {driver: postgres}\n", err: "exactly one"},
		{name: "path with postgres", yaml: "store: {driver: postgres, dsnEnv: A, path: x.db}\n", err: "path is the SQLite file"},
		{name: "dsn with sqlite", yaml: "store: {path: x.db, dsnEnv: A}\n", err: "for driver: postgres"},
		{name: "unknown driver", yaml: "store: {driver: mysql}\n", err: "sqlite or postgres"},
		{name: "unknown key", yaml: "store: {driver: postgres, dsnEnv: A, retentionDay: 3}\n", err: "field retentionDay not found"},
		{name: "sqlite synchronous full", yaml: "store: {path: x.db, synchronous: full}\n", want: storeConfig{Driver: "sqlite", Path: "x.db", Synchronous: "full"}},
		{name: "sqlite synchronous misspelt", yaml: "store: {path: x.db, synchronous: FULLY}\n", err: "normal or full"},
		{name: "synchronous with postgres", yaml: "store: {driver: postgres, dsnEnv: A, synchronous: full}\n", err: "synchronous_commit"},
		{name: "negative retention", yaml: "store: {path: x.db, retentionDays: -1}\n", err: "retentionDays"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := load(c.yaml)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("the password is in the error: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Store != c.want {
				t.Fatalf("store = %+v, want %+v", cfg.Store, c.want)
			}
		})
	}
	if cfg, err := load("listen: 127.0.0.1:9\n"); err != nil || cfg.Store != (storeConfig{Driver: "sqlite", Path: "var/valuerx.db"}) {
		t.Fatalf("default store: %+v %v", cfg.Store, err)
	}
}

// The connection string comes from the file or variable the configuration names; a missing one
// stops the start with a message that says where valuerx looked.
func TestStoreDSNSources(t *testing.T) {
	f := filepath.Join(t.TempDir(), "pg.dsn")
	if err := os.WriteFile(f, []byte("host=/run/postgresql dbname=v password=hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if dsn, err := (storeConfig{Driver: "postgres", DSNFile: f}).postgresDSN(); err != nil || dsn != "host=/run/postgresql dbname=v password=hunter2" {
		t.Fatalf("dsnFile: %q %v", dsn, err)
	}
	t.Setenv("VALUERX_TEST_PG_DSN", " host=db dbname=v ")
	if dsn, err := (storeConfig{Driver: "postgres", DSNEnv: "VALUERX_TEST_PG_DSN"}).postgresDSN(); err != nil || dsn != "host=db dbname=v" {
		t.Fatalf("dsnEnv: %q %v", dsn, err)
	}
	if _, err := (storeConfig{Driver: "postgres", DSNEnv: "VALUERX_TEST_PG_UNSET"}).postgresDSN(); err == nil || !strings.Contains(err.Error(), "VALUERX_TEST_PG_UNSET is not set") {
		t.Fatalf("unset variable: %v", err)
	}
	if _, err := (storeConfig{Driver: "postgres", DSNFile: f + ".missing"}).postgresDSN(); err == nil || !strings.Contains(err.Error(), "store.dsnFile") {
		t.Fatalf("missing file: %v", err)
	}
}

// A shared store without a shared order key would count one order seen by two instances as two
// decisions: valuerx refuses to start, before it connects anywhere.
func TestPostgresNeedsOrderKeySecret(t *testing.T) {
	cfg := defaultConfig()
	cfg.Auth.DevKeyFile = filepath.Join(t.TempDir(), "dev.pem")
	cfg.Store = storeConfig{Driver: driverPostgres, DSN: "host=/nonexistent-valuerx dbname=v"}
	a, err := buildApp(cfg, newLogger(io.Discard, "error"))
	if err == nil {
		a.Close()
		t.Fatal("started without orderKeySecretFile")
	}
	if !strings.Contains(err.Error(), "orderKeySecretFile") {
		t.Fatalf("err = %v", err)
	}
}
