package controllers

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func TestPolicyRetriesWaitAtMostTheCap(t *testing.T) {
	limiter := policyRetries()
	req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "team", Name: "outlasted-an-outage"}}
	var longest time.Duration
	for range 40 { // 5 ms doubled 40 times is far past controller-runtime's 1000 s
		longest = max(longest, limiter.When(req))
	}
	if longest != maxPolicyRetryDelay {
		t.Fatalf("a policy failing 40 times in a row waits up to %s before its next try, want the cap of %s", longest, maxPolicyRetryDelay)
	}
	limiter.Forget(req)
	if again := limiter.When(req); again >= maxPolicyRetryDelay {
		t.Fatalf("a policy that succeeded waits %s on its next failure, want its backoff to start over", again)
	}
}
