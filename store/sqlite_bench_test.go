package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"valuerx/cdshooks"
	"valuerx/store"
)

// BenchmarkSQLiteRecordHook is one hook's order state reads and write on a real SQLite file that already holds 2,000
// hooks: its jti claim and 1 or 20 decisions shaped as the gateway records a card (three
// suggestions, five options, a scoring request), from one caller (no group to share the commit
// with) or from 4 concurrent callers (group commits). cpu-ns/op is the process's CPU time (user +
// system) per hook: with several callers the wall time per op is not what a hook costs the
// machine. walframes/op is the pages the WAL receives per hook (20 serial hooks).
func BenchmarkSQLiteRecordHook(b *testing.B) {
	for _, callers := range []int{1, 4} {
		for _, n := range []int{1, 20} {
			b.Run(fmt.Sprintf("c-%d/decisions-%d", callers, n), func(b *testing.B) {
				path := filepath.Join(b.TempDir(), "bench.db")
				st, err := store.OpenSQLite(path)
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				ctx := context.Background()
				at := time.Date(2026, 2, 15, 10, 0, 0, 0, time.UTC)
				// As the gateway records a trastuzumab card: each suggestion's figures unrounded, its
				// per-year ones (a course is a year) and every option's in cents; three options are
				// the suggestions, one is eligible but not suggested, one is not priced.
				suggs := []store.Suggestion{{ProductID: "trazimera", PayerSaving: 50356.125, PatientSaving: 10071.225, OrgImpact: 21323.10962264151},
					{ProductID: "ogivri", PayerSaving: 36742.287000000004, PatientSaving: 7348.457400000001, OrgImpact: 15768.66371864151},
					{ProductID: "kanjinti", PayerSaving: 29688.68, PatientSaving: 5937.736, OrgImpact: 12890.790120754717}}
				opts := make([]store.Option, 0, 5)
				for i, sg := range suggs {
					c := store.Saving{Payer: sg.PayerSaving, Patient: sg.PatientSaving, Org: sg.OrgImpact}.Cents()
					suggs[i].PerYear = c
					opts = append(opts, store.Option{ProductID: sg.ProductID, Relationship: "biosimilar", Eligible: true, PerCourse: c, PerYear: c})
				}
				opts = append(opts, store.Option{ProductID: "hercessi", Relationship: "biosimilar", Eligible: true,
					PerCourse: store.Saving{Payer: 1200.5, Patient: 240.1, Org: -300.25}, PerYear: store.Saving{Payer: 1200.5, Patient: 240.1, Org: -300.25}},
					store.Option{ProductID: "herzuma", Relationship: "biosimilar", Exclusion: "not-priced"})
				hook := func(i int) {
					hctx, cancel := context.WithTimeout(ctx, time.Second) // a hook's context has a deadline
					defer cancel()
					ds := make([]store.Decision, n)
					for j := range ds {
						id := cdshooks.NewCardUUID() // as the gateway makes them
						suggs[0].UUID, suggs[1].UUID, suggs[2].UUID = id+"a", id+"b", id+"c"
						ds[j] = store.Decision{CardUUID: id, HookInstance: "h", ServiceID: "svc", Hook: "order-sign", Client: "https://ehr.test",
							OrderKey: "k" + id, Fingerprint: "fp", ContractID: "mssp-aco", Arrangement: "aco", GroupID: "trastuzumab",
							OrderedProductID: "herceptin", BestProductID: "trazimera", At: at, Options: opts,
							Suggestions:  []store.Suggestion{suggs[0], suggs[1], suggs[2]},
							ScoreRequest: []byte(`{"contract":"mssp-aco","product":"herceptin","doseMg":420,"administrations":17,"date":"2026-02-15"}`)}
					}
					// The gateway asks for the order states before recording (suppression): of a
					// lone draft alone, of several in one read.
					if n == 1 {
						if _, err := st.OrderState(hctx, ds[0].Client, ds[0].OrderKey); !errors.Is(err, store.ErrNotFound) {
							b.Error(err)
						}
					} else {
						keys := make([]string, n)
						for j, d := range ds {
							keys[j] = d.OrderKey
						}
						if states, err := st.OrderStates(hctx, ds[0].Client, keys); err != nil || len(states) != 0 {
							b.Error(states, err)
						}
					}
					// jti keys are random (a hash of the token's issuer and jti).
					jti := &store.JTI{Key: fmt.Sprintf("%016x%048d", uint64(i)*11400714819323198485, 0), Expires: at.Add(time.Hour), Now: at}
					if err := st.RecordHook(ctx, jti, ds); err != nil {
						b.Error(err)
					}
				}
				for i := range 2000 {
					hook(-1 - i)
				}
				frames := walFramesPerHook(b, path, func(i int) { hook(-100000 - i) })
				b.ReportAllocs()
				b.ResetTimer()
				cpu0, io0 := cpuTime(), writes()
				var next atomic.Int64
				var wg sync.WaitGroup
				for range callers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							i := int(next.Add(1)) - 1
							if i >= b.N {
								return
							}
							hook(i)
						}
					}()
				}
				wg.Wait()
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
				b.ReportMetric(frames, "walframes/op")
				io1 := writes()
				b.ReportMetric(float64(io1[0]-io0[0])/float64(b.N), "writecalls/op")
				b.ReportMetric(float64(io1[1]-io0[1])/float64(b.N), "writebytes/op")
				b.ReportMetric(float64(io1[2]-io0[2])/float64(b.N), "readcalls/op")
			})
		}
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// writes is the process's write system calls, the bytes they wrote and its read system calls
// (Linux /proc/self/io: syscw, wchar, syscr), zero elsewhere.
func writes() [3]int64 {
	var w [3]int64
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return w
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "syscw":
			w[0] = n
		case "wchar":
			w[1] = n
		case "syscr":
			w[2] = n
		}
	}
	return w
}

// walFramesPerHook is the WAL frames (pages written) per hook of 20 serial hooks, measured by the
// WAL's growth from an emptied log (no auto-checkpoint falls within 20 hooks).
func walFramesPerHook(b *testing.B, path string, hook func(i int)) float64 {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		b.Fatal(err)
	}
	const hooks = 20
	for i := range hooks {
		hook(i)
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		b.Fatal(err)
	}
	const header, frame = 32, 24 + 4096
	return float64(fi.Size()-header) / frame / hooks
}
