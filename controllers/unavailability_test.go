package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
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
