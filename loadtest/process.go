package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is a server the harness started (valuerx or the floor), one OS process each, so peak
// RSS is per server and neither shares a heap or a scheduler with the load generator.
type process struct {
	name string
	base string // http://127.0.0.1:port
	cmd  *exec.Cmd
	out  *tailBuffer
	done chan struct{}
	err  error
}

// ArgsFunc returns the arguments (after the executable) that start a server listening on
// listen whose external URL is base.
type ArgsFunc func(listen, base string) ([]string, error)

// freePort asks the kernel for a free loopback port. The port is free again when this returns;
// start retries if another process takes it first.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("loadtest: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startProcess runs exe with the arguments args returns and waits until GET /healthz answers 200.
func startProcess(ctx context.Context, name, exe string, env []string, args ArgsFunc) (*process, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		listen := "127.0.0.1:" + strconv.Itoa(port)
		base := "http://" + listen
		argv, err := args(listen, base)
		if err != nil {
			return nil, err
		}
		p := &process{name: name, base: base, out: &tailBuffer{max: 16 << 10}, done: make(chan struct{})}
		p.cmd = exec.Command(exe, argv...)
		p.cmd.Env = append(os.Environ(), env...)
		p.cmd.Stdout = p.out
		p.cmd.Stderr = p.out
		dieWithParent(p.cmd)
		if err := p.cmd.Start(); err != nil {
			return nil, fmt.Errorf("loadtest: start %s: %w", name, err)
		}
		go func() {
			p.err = p.cmd.Wait()
			close(p.done)
		}()
		if err := p.waitReady(ctx, 20*time.Second); err != nil {
			p.stop()
			lastErr = fmt.Errorf("loadtest: %s did not become ready: %w\n%s", name, err, p.out.String())
			continue
		}
		return p, nil
	}
	return nil, lastErr
}

func (p *process) waitReady(ctx context.Context, limit time.Duration) error {
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("exited: %v", p.err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/healthz", nil)
		if resp, err := hc.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("timed out")
}

// stop asks the process to shut down (SIGTERM) and kills it if it has not exited in 5 s.
func (p *process) stop() {
	if p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Memory is a server's resident set from /proc/<pid>/status, in bytes.
type Memory struct {
	RSS  int64 `json:"rssBytes"`
	Peak int64 `json:"peakRSSBytes"` // VmHWM: the high-water mark since start
}

func (p *process) memory() (Memory, error) {
	return readMemory(p.cmd.Process.Pid)
}

func readMemory(pid int) (Memory, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return Memory{}, fmt.Errorf("loadtest: memory: %w", err)
	}
	var m Memory
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &m.Peak
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &m.RSS
		default:
			continue
		}
		f := strings.Fields(line)
		if len(f) >= 2 {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			*dst = kb << 10
		}
	}
	return m, nil
}

// tailBuffer keeps the last max bytes written (a server's log, shown only if it fails).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// cpu is the process's CPU time so far (user + system, every thread, from /proc/<pid>/stat): the
// server's own rusage, which a busy run queue does not inflate the way it inflates wall time.
func (p *process) cpu() (time.Duration, error) {
	return readCPU(p.cmd.Process.Pid)
}

func readCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("loadtest: cpu: %w", err)
	}
	return parseStatCPU(b, clockTicks())
}

// parseStatCPU reads utime and stime (fields 14 and 15 of proc(5)'s /proc/<pid>/stat, in clock
// ticks) and converts them at hz ticks per second. The command name (field 2) is in parentheses
// and may itself hold spaces and parentheses, so fields are counted from the last ')'.
func parseStatCPU(stat []byte, hz int64) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || hz <= 0 {
		return 0, errors.New("loadtest: cpu: malformed stat")
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state), so utime (14) is f[11] and stime (15) f[12].
	if len(f) < 13 {
		return 0, errors.New("loadtest: cpu: short stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || ut < 0 || st < 0 {
		return 0, errors.New("loadtest: cpu: bad utime/stime")
	}
	ticks := ut + st
	return time.Duration(ticks/hz)*time.Second + time.Duration(ticks%hz)*time.Second/time.Duration(hz), nil
}

var clockTicksOnce = sync.OnceValue(func() int64 {
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 100
	}
	return auxvClockTicks(b)
})

// clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat times: AT_CLKTCK from this
// process's auxiliary vector (what sysconf(_SC_CLK_TCK) reads), 100 if it cannot be read.
func clockTicks() int64 { return clockTicksOnce() }

// auxvClockTicks finds AT_CLKTCK (17) in this process's auxiliary vector: pairs of native-endian
// words (read here on 64-bit platforms only; elsewhere the answer is Linux's usual 100).
func auxvClockTicks(b []byte) int64 {
	const atClkTck, atNull = 17, 0
	if strconv.IntSize != 64 {
		return 100
	}
	for i := 0; i+16 <= len(b); i += 16 {
		k := binary.NativeEndian.Uint64(b[i:])
		v := binary.NativeEndian.Uint64(b[i+8:])
		switch k {
		case atClkTck:
			if v > 0 && v < 1<<20 {
				return int64(v)
			}
			return 100
		case atNull:
			return 100
		}
	}
	return 100
}
