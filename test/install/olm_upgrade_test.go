package install_test

import (
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/operator-framework/api/pkg/manifests"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/test/installtest"
)

// bundle010Dir is bundle/ as 0.1.0 shipped it (as of 493e8ca, the last
// bundle of 0.1.0's API: its CRD is test/e2e/testdata's), with one replica
// selected by kubebuilder's control-plane: controller-manager alone.
var bundle010Dir = filepath.Join("testdata", "bundle-0.1.0")

// OLM upgrades the CSV's deployment in place when the new CSV names the
// same one, and a deployment's selector cannot change: the bundle's CSV
// must replace 0.1.0's, under OLM's own operator, in the shared operators
// namespace where another kubebuilder operator's pod carries the same
// control-plane label.
var _ = Describe("the OLM operator upgrading from 0.1.0", Ordered, func() {
	var (
		olm    *installtest.Cluster
		old    *manifests.Bundle
		other  *corev1.Pod
		oldCSV *unstructured.Unstructured
	)

	BeforeAll(func(ctx SpecContext) {
		// The garbage collector deletes what the replaced CSV owned.
		olm = startOLM(ctx, "deployment-controller", "replicaset-controller", "garbage-collector-controller")
		var err error
		old, err = manifests.GetBundleFromDir(bundle010Dir)
		Expect(err).NotTo(HaveOccurred())
		other = createOtherOperatorPod(ctx, olm)
		installBundleObjects(ctx, olm, old)
		installServiceAccount(ctx, olm, old.CSV)
	}, NodeTimeout(3*time.Minute))

	It("installs 0.1.0's CSV", func(ctx SpecContext) {
		oldCSV = installCSV(ctx, olm, bundle010Dir)
	}, SpecTimeout(4*time.Minute))

	It("replaces it with the bundle's CSV, which succeeds", func(ctx SpecContext) {
		Expect(bundle.CSV.Spec.Replaces).To(Equal(old.CSV.Name), "the bundle's CSV does not replace 0.1.0's")
		// What the catalog operator does with the new bundle: the CRD and
		// the other manifests replaced, the new CSV's RBAC, the CSV.
		installBundleObjects(ctx, olm, bundle)
		installServiceAccount(ctx, olm, bundle.CSV)
		installCSV(ctx, olm, bundleDir)
	}, SpecTimeout(4*time.Minute))

	It("deletes 0.1.0's CSV and its deployment", func(ctx SpecContext) {
		want := make([]string, 0, len(bundle.CSV.Spec.InstallStrategy.StrategySpec.DeploymentSpecs))
		for _, d := range bundle.CSV.Spec.InstallStrategy.StrategySpec.DeploymentSpecs {
			want = append(want, d.Name)
		}
		Eventually(func(g Gomega) {
			err := olm.K8s.Get(ctx, client.ObjectKeyFromObject(oldCSV), oldCSV.DeepCopy())
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "0.1.0's CSV is still there (%v)", err)
			deployments := &appsv1.DeploymentList{}
			g.Expect(olm.K8s.List(ctx, deployments, client.InNamespace(operatorNamespace))).To(Succeed())
			names := make([]string, 0, len(deployments.Items))
			for _, d := range deployments.Items {
				names = append(names, d.Name)
			}
			g.Expect(names).To(ConsistOf(want))
		}).WithTimeout(time.Minute).Should(Succeed())
	}, SpecTimeout(2*time.Minute))

	It("routes the webhooks only to readygate's pods, not to the other operator's", func(ctx SpecContext) {
		expectWebhooksRouteOnlyToReadygate(ctx, olm, bundle.CSV, other)
	})
})
