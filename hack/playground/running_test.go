package main

import (
	"fmt"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/readygate/readygate/controllers"
	"github.com/readygate/readygate/internal/testenv"
)

// TestMakeRunRefusesAClusterWhereReadygateRuns: make run against a
// cluster whose readygate leader holds its Lease would start a second
// writer of every gate.
func TestMakeRunRefusesAClusterWhereReadygateRuns(t *testing.T) {
	env := &envtest.Environment{BinaryAssetsDirectory: testenv.AssetsDir()}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c := kubernetes.NewForConfigOrDie(cfg)
	ctx := t.Context()
	now := time.Now()
	for _, tc := range []struct {
		name, namespace, leaseName, holder string
		renewed                            time.Duration
		refused                            bool
	}{
		{name: "no lease"},
		{name: "another operator's lease", namespace: "tools", leaseName: "other.example.com", holder: "other-0", renewed: time.Second},
		{name: "a lease the last leader released", namespace: "released", leaseName: controllers.LeaderElectionID, renewed: time.Second},
		{name: "a lease its dead leader let run out", namespace: "dead", leaseName: controllers.LeaderElectionID, holder: "rg-0", renewed: 2 * time.Minute},
		{name: "a leader renewing, seen from a clock 20 s ahead", namespace: "ahead", leaseName: controllers.LeaderElectionID, holder: "rg-2", renewed: 35 * time.Second, refused: true},
		{name: "a leader renewing", namespace: "readygate-system", leaseName: controllers.LeaderElectionID, holder: "rg-1", renewed: 2 * time.Second, refused: true},
	} {
		if tc.leaseName != "" {
			if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tc.namespace}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: tc.leaseName, Namespace: tc.namespace},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(tc.holder), LeaseDurationSeconds: ptr.To[int32](15),
					RenewTime: &metav1.MicroTime{Time: now.Add(-tc.renewed)}}}
			if _, err := c.CoordinationV1().Leases(tc.namespace).Create(ctx, lease, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		running, err := runningOperator(ctx, c, now)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if refused := running != ""; refused != tc.refused {
			t.Fatalf("%s: make run refused: %v (%q), want %v", tc.name, refused, running, tc.refused)
		}
		if tc.leaseName != "" { // each case alone in the cluster
			if err := c.CoordinationV1().Leases(tc.namespace).Delete(ctx, tc.leaseName, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if tc.refused && running != fmt.Sprintf("Lease %s/readygate.readygate.io is held by %s, renewed %s ago", tc.namespace, tc.holder, tc.renewed) {
			t.Errorf("%s: the refusal says %q", tc.name, running)
		}
	}
}
