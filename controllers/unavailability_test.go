package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/readygate/readygate/internal/policy"
)

// An admitted flip is given back only when its write certainly changed
// nothing: after an answer lost in transit the write may have landed, and
// giving its room to another pod before the cache shows it would take more
// pods out than maxUnavailable allows.
func TestWriteRejected(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"a conflict, as a UID precondition fails", apierrors.NewConflict(pods, "web-0", errors.New("uid")), true},
		{"an invalid patch", apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, "web-0", nil), true},
		{"forbidden", apierrors.NewForbidden(pods, "web-0", errors.New("rbac")), true},
		{"throttled before it was handled", apierrors.NewTooManyRequests("slow down", 1), true},
		{"wrapped", fmt.Errorf("writing: %w", apierrors.NewConflict(pods, "web-0", errors.New("uid"))), true},
		{"the server timed out, perhaps after committing", apierrors.NewTimeoutError("etcd", 1), false},
		{"a request timeout", apierrors.NewGenericServerResponse(408, "PATCH", pods, "web-0", "", 0, true), false},
		{"an internal error", apierrors.NewInternalError(errors.New("boom")), false},
		{"the service unavailable", apierrors.NewServiceUnavailable("restarting"), false},
		{"the connection dropped", &url.Error{Op: "Patch", URL: "https://api/pods/web-0", Err: errors.New("connection reset by peer")}, false},
		{"the reconcile cancelled", context.Canceled, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := writeRejected(tc.err); got != tc.want {
				t.Fatalf("writeRejected(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// A flip whose write got no answer keeps its room; when the pod's next
// evaluation asks again, that room is its own, not another pod's: it must
// not wait out admittedFor behind itself. The cache is never read then.
func TestAdmitLetsAPodRetryItsOwnAdmittedFlip(t *testing.T) {
	u := newUnavailability(nil)
	c := &policy.Compiled{UID: "p1", Namespace: "shop", ConditionType: "readygate.io/x", MaxUnavailable: intstr.FromInt32(1)}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-0"}}
	u.admitted[c.UID] = map[types.NamespacedName]time.Time{{Namespace: "shop", Name: "web-0"}: time.Now().Add(-30 * time.Second)}
	if !u.admit(context.Background(), c, 4, pod) {
		t.Fatal("the pod's retry was refused its own room")
	}
	if at := u.admitted[c.UID][types.NamespacedName{Namespace: "shop", Name: "web-0"}]; time.Since(at) > time.Second {
		t.Fatalf("the retry did not renew the admission (%s old)", time.Since(at))
	}
}
