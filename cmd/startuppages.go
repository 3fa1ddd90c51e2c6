package main

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// releaseStartupPagesOnceSynced releases the binary's start-up pages once
// the caches have synced, which is where start-up ends: what the
// reconcilers run from then on is mapped back as they run it.
func releaseStartupPagesOnceSynced(ctx context.Context, c cache.Cache) {
	if !c.WaitForCacheSync(ctx) {
		return
	}
	if err := releaseStartupPages(); err != nil {
		// Nothing is lost but memory the kernel may reclaim itself.
		ctrl.Log.Info("kept the binary's start-up pages mapped", "reason", err.Error())
	}
}
