package gateway

import (
	"context"
	"errors"
	"sync"
	"time"

	"valuerx/store"
)

// The dashboard rollup (store.Rollups) is folded on the next read: a dashboard opened after a
// long idle period with much unfolded traffic waited for the whole fold. A background folder
// folds what the hooks, imports and the divergence job wrote every RollupFoldEvery, so a read
// finds at most that much left to fold; the read still folds the rest itself, so every figure is
// what it was (the record up to the read), only sooner. The folder runs off the hook path: on
// SQLite each chunk is a transaction of its own (store's committer.doAlone), never the hooks'.

// The folder is off unless Config.RollupFoldEvery is positive: under load (`valuerx load
// -scenario drafts-20`, 2 December 2026, 08:0x) a 5 s folder took 60 % of valuerx's CPU
// (store.SQLite.reassemble re-reads every decision of an order each fold, and the harness's
// orders repeat), CPU per hook 3.9 -> 174 ms. Until the fold is incremental per order it runs
// on dashboard reads only, as before.

type rollupFolder struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func (g *Gateway) startRollupFold() {
	ru, ok := g.cfg.Store.(store.Rollups)
	every := g.cfg.RollupFoldEvery
	if !ok || every <= 0 {
		return
	}
	f := &rollupFolder{stop: make(chan struct{}), done: make(chan struct{})}
	g.fold = f
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-f.stop
		cancel()
	}()
	go func() {
		defer close(f.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if err := ru.RefreshRollups(ctx); err != nil && ctx.Err() == nil {
				if errors.Is(err, store.ErrRollupUnavailable) {
					g.log.Debug("dashboard rollup cannot fold; reads sum the orders instead", "error", err.Error())
				} else {
					g.log.Warn("dashboard rollup fold failed", "error", err.Error())
				}
			}
			select {
			case <-f.stop:
				return
			case <-tick.C:
			}
		}
	}()
}

func (f *rollupFolder) close() {
	if f == nil {
		return
	}
	f.once.Do(func() { close(f.stop) })
	<-f.done
}
