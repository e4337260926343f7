// Package pgtest starts a throwaway PostgreSQL server for tests: initdb on a temporary
// directory, then the postgres server as a child process listening on a Unix socket in that
// directory only (no TCP port, so it never collides with another engineer's or CI's PostgreSQL),
// stopped and removed when the test binary is done with it. The binaries are Debian's
// (apt-get install postgresql: /usr/lib/postgresql/N/bin) or those of pg_config on the PATH.
//
// initdb refuses to run as root, so under root the server runs as the postgres user (or nobody).
// The child gets SIGQUIT (immediate shutdown) if the test binary dies without stopping it, so a
// test that times out leaves no server behind.
//
// Tests skip when no binaries are found, unless VALUERX_POSTGRES_REQUIRED=1 (CI), which makes
// that a failure. It imports nothing of the project.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoBinaries means no PostgreSQL server binaries were found.
var ErrNoBinaries = errors.New("pgtest: no PostgreSQL binaries (initdb, postgres) in /usr/lib/postgresql/*/bin or from pg_config on the PATH; apt-get install -y postgresql")

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	dir  string // everything: data/, the socket, the log
	bin  string
	port int
	cmd  *exec.Cmd
	done chan struct{} // closed when the server process has exited
	log  string

	mu      sync.Mutex
	stopped bool
	dbs     atomic.Int64
}

// Superuser is the role initdb creates; the socket trusts it (nothing but this machine's
// processes can reach a socket in a private directory).
const Superuser = "valuerx"

// BinDir finds the directory holding initdb and postgres: the newest /usr/lib/postgresql/N/bin,
// else pg_config --bindir.
func BinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if executable(filepath.Join(d, "initdb")) && executable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if executable(filepath.Join(d, "initdb")) && executable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// Start initialises and starts a cluster. Stop it with Stop.
func Start(ctx context.Context) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	cred, err := unprivileged()
	if err != nil {
		return nil, err
	}
	removeStale()
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, err
	}
	// The socket trusts whoever reaches it: only its owner may (MkdirTemp's 0700, said outright,
	// and a 0700 socket; attacker review finding 11).
	if err := os.Chmod(dir, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	c := &Cluster{dir: dir, bin: bin, port: 5432, done: make(chan struct{}), log: filepath.Join(dir, "postgres.log")}
	fail := func(err error) (*Cluster, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(fmt.Errorf("pgtest: %w", err))
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", Superuser, "--auth=trust",
		"--no-sync", "-E", "UTF8", "--locale=C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("pgtest: initdb: %w\n%s", err, out))
	}
	logf, err := os.OpenFile(c.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fail(fmt.Errorf("pgtest: %w", err))
	}
	// fsync off: a throwaway cluster need not survive a power cut, and the shared two-core
	// machine should not wait for disks. Commits still go through the WAL as in production.
	c.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-k", dir, "-p", strconv.Itoa(c.port),
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=32MB", "-c", "unix_socket_permissions=0700",
		"-c", "log_min_messages=warning", "-c", "deadlock_timeout=200ms")
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	c.cmd.Dir = dir
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		logf.Close()
		return fail(fmt.Errorf("pgtest: start postgres: %w", err))
	}
	go func() { _ = c.cmd.Wait(); logf.Close(); close(c.done) }()
	if err := c.waitReady(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// dirPrefix names the clusters' directories in the temporary directory. (Not "valuerx-pg-": an
// earlier sweep removed those too eagerly, and binaries built from it may still run.)
const dirPrefix = "vrx-postgres-"

// removeStale removes the directories of clusters whose test binary was killed (SIGKILL leaves
// no chance to clean up; the server itself stops on its parent's death): those more than an hour
// old whose server, if they had one, is gone. Younger ones may be another test binary's, between
// initdb's steps, when no server runs yet.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil || time.Since(fi.ModTime()) < time.Hour {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(d, "data", "postmaster.pid")); err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
			if err != nil || alive(pid) {
				continue
			}
		}
		os.RemoveAll(d)
	}
}

// alive reports whether pid is a running process (a zombie is not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// unprivileged is the user the server runs as when this process is root: postgres, else nobody.
// nil when not root (the server runs as this user).
func unprivileged() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("pgtest: running as root and there is no postgres or nobody user to run PostgreSQL as (initdb refuses root)")
}

func (c *Cluster) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, c.DSN("postgres"))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("pgtest: postgres exited at start:\n%s", c.Log())
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("pgtest: postgres did not accept connections: %v\n%s", err, c.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Dir is the cluster's directory; its Unix socket is in it.
func (c *Cluster) Dir() string { return c.dir }

// DSN is the connection string of database db.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", c.dir, c.port, Superuser, db)
}

// Log returns what the server logged (startup, warnings, errors).
func (c *Cluster) Log() string {
	b, _ := os.ReadFile(c.log)
	return string(b)
}

// CreateDatabase creates a new, empty database and returns its connection string.
func (c *Cluster) CreateDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("t%d_%d", os.Getpid(), c.dbs.Add(1))
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("pgtest: create database: %w", err)
	}
	return c.DSN(name), nil
}

// Stop shuts the server down (fast shutdown, then SIGKILL after 15 s) and removes its directory.
func (c *Cluster) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	c.stopped = true
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
			<-c.done
		}
	}
	os.RemoveAll(c.dir)
}

var (
	sharedMu  sync.Mutex
	shared    *Cluster
	sharedErr error
	// sharedReported: the start failure was shown in full once.
	sharedReported bool
)

// Shared is one cluster per test binary, started on first use; the package's TestMain stops it
// with StopShared after m.Run. Without binaries the test is skipped, or failed when
// VALUERX_POSTGRES_REQUIRED=1.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil && sharedErr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		shared, sharedErr = Start(ctx)
		cancel()
	}
	if sharedErr != nil {
		if errors.Is(sharedErr, ErrNoBinaries) && os.Getenv("VALUERX_POSTGRES_REQUIRED") != "1" {
			t.Skipf("PostgreSQL tests skipped: %v", sharedErr)
		}
		if sharedReported {
			t.Fatal("PostgreSQL did not start (the first failing test shows why)")
		}
		sharedReported = true
		t.Fatalf("PostgreSQL tests: %v", sharedErr)
	}
	return shared
}

// NewDatabase creates a fresh database on the shared cluster and returns its connection string.
func NewDatabase(t testing.TB) string {
	t.Helper()
	c := Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn, err := c.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// StopShared stops the shared cluster, if one was started.
func StopShared() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared != nil {
		shared.Stop()
		shared = nil
	}
}

// StartT starts a cluster of the test's own, stopped when the test ends (pass, fail or
// t.Fatal). Skips or fails like Shared when there are no binaries.
func StartT(t testing.TB) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := Start(ctx)
	if err != nil {
		if errors.Is(err, ErrNoBinaries) && os.Getenv("VALUERX_POSTGRES_REQUIRED") != "1" {
			t.Skipf("PostgreSQL test skipped: %v", err)
		}
		t.Fatalf("PostgreSQL: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}
