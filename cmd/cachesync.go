package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// cacheSync ends the process when the informers have not synced within a
// timeout, most often because the operator's RBAC forbids a list (the log
// names it). The manager would otherwise idle forever without reconciling
// anything, and, on a signal, spin instead of stopping: controller-runtime's
// runnableGroup.Start does not return on cancellation before its runnables
// are ready (kubernetes-sigs/controller-runtime#3440).
type cacheSync struct {
	synced atomic.Bool
}

func (s *cacheSync) watch(ctx context.Context, c cache.Cache, timeout time.Duration) {
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if c.WaitForCacheSync(waitCtx) {
		s.synced.Store(true)
		// Start-up ends here: what the reconcilers run from now on is mapped
		// back as they run it.
		if err := releaseStartupPages(); err != nil {
			// Nothing is lost but memory the kernel may reclaim itself.
			ctrl.Log.Info("kept the binary's start-up pages mapped", "reason", err.Error())
		}
		return
	}
	if ctx.Err() != nil {
		ctrl.Log.Info("stopping before the caches synced")
		os.Exit(0)
	}
	ctrl.Log.Error(nil, "the caches did not sync: check the operator's RBAC against the list errors above", "timeout", timeout)
	os.Exit(1)
}

// ready is a readiness check: not ready until the caches synced.
func (s *cacheSync) ready(*http.Request) error {
	if !s.synced.Load() {
		return errors.New("caches not synced yet")
	}
	return nil
}
