package main

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/readygate/readygate/controllers"
)

// runningOperator names the readygate leader that holds its Lease in the
// cluster, if one does. make run must not start a second operator beside it:
// the two would write the same gates, each counting maxUnavailable on its
// own, and from outside the pod network every pod's http and metrics checks
// fail, which is a verdict on the pod: the laptop would take pods out of
// traffic that the cluster's operator puts back.
func runningOperator(ctx context.Context, c kubernetes.Interface, now time.Time) (string, error) {
	leases, err := c.CoordinationV1().Leases(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", controllers.LeaderElectionID).String(),
	})
	if err != nil {
		return "", fmt.Errorf("looking for a readygate operator already in the cluster (Leases named %s): %w", controllers.LeaderElectionID, err)
	}
	for _, l := range leases.Items {
		if held(l.Spec, now) {
			return fmt.Sprintf("Lease %s/%s is held by %s, renewed %s ago", l.Namespace, l.Name, *l.Spec.HolderIdentity,
				now.Sub(l.Spec.RenewTime.Time).Round(time.Second)), nil
		}
	}
	return "", nil
}

// clockSkew is how far the laptop's clock may be from the leader's: a lease
// renewed that long before its expiry counts as held, so a clock ahead does
// not take a live leader for a dead one. A leader that died less than this
// ago also refuses make run, for a minute.
const clockSkew = time.Minute

// held tells whether a leader holds the lease now: one that stopped cleanly
// released it, and one that died let it run out.
func held(s coordinationv1.LeaseSpec, now time.Time) bool {
	if s.HolderIdentity == nil || *s.HolderIdentity == "" || s.RenewTime == nil || s.LeaseDurationSeconds == nil {
		return false
	}
	return now.Before(s.RenewTime.Add(time.Duration(*s.LeaseDurationSeconds)*time.Second + clockSkew))
}
