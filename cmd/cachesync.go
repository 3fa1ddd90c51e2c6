package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// cacheSync ends the process when the informers have not synced within a
// timeout because the API server refuses a list (the operator's RBAC, its
// credentials): the manager would otherwise idle forever without
// reconciling anything, and, on a signal, spin instead of stopping:
// controller-runtime's runnableGroup.Start does not return on cancellation
// before its runnables are ready (kubernetes-sigs/controller-runtime#3440).
// Lists that are only slow (an API server in a brownout, a large cluster)
// are waited for: exiting would have every replica list the whole cluster
// again at each restart, against the API server that is struggling.
type cacheSync struct {
	synced atomic.Bool
	// refused is the last list or watch the API server refused.
	refused atomic.Pointer[error]
}

// watchErrors records the lists and watches the API server refuses, then
// logs them as client-go does by default.
func (s *cacheSync) watchErrors(ctx context.Context, r *toolscache.Reflector, err error) {
	if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
		s.refused.Store(&err)
	}
	toolscache.DefaultWatchErrorHandler(ctx, r, err)
}

func (s *cacheSync) watch(ctx context.Context, c cache.Cache, timeout time.Duration) {
	for {
		waitCtx, cancel := context.WithTimeout(ctx, timeout)
		synced := c.WaitForCacheSync(waitCtx)
		cancel()
		if synced {
			s.synced.Store(true)
			// Start-up ends here: what the reconcilers run from now on is
			// mapped back as they run it.
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
		if refused := s.refused.Load(); refused != nil {
			ctrl.Log.Error(*refused, "the caches did not sync: the API server refuses the operator's lists; check its RBAC", "timeout", timeout)
			os.Exit(1)
		}
		ctrl.Log.Info("the caches have not synced yet: the API server is slow to list; still waiting, not ready", "waited", timeout)
	}
}

// ready is a readiness check: not ready until the caches synced.
func (s *cacheSync) ready(*http.Request) error {
	if !s.synced.Load() {
		return errors.New("caches not synced yet")
	}
	return nil
}
