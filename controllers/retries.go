package controllers

import (
	"time"

	"golang.org/x/time/rate"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// maxPolicyRetryDelay caps how long a policy whose reconcile failed waits
// before its next try. controller-runtime's default lets the wait grow to
// 1000 s: a policy whose status writes failed through an API-server
// outage then showed its pre-outage counts for up to 16 minutes after the
// API server recovered, in a cluster where no pod changed to enqueue it
// sooner. A policy's reconcile is one status write; a few policies
// retrying every 30 s cost the API server nothing.
const maxPolicyRetryDelay = 30 * time.Second

// policyRetries is controller-runtime's default rate limiter for retries,
// with the per-policy backoff capped at maxPolicyRetryDelay.
func policyRetries() workqueue.TypedRateLimiter[reconcile.Request] {
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](5*time.Millisecond, maxPolicyRetryDelay),
		&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
	)
}
