package e2e_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/internal/testenv"
)

// The CRD bounds maxUnavailable for what the API server admits from now
// on; a count 0.1.0's CRD (or this one before the bound) took stays in
// etcd, and must decode after the upgrade.
var _ = Describe("upgrading with a maxUnavailable count above int32 stored", func() {
	It("reads it as the largest count, and every other policy", func(ctx SpecContext) {
		ns := createNamespace(ctx, "overflow")
		testenv.StopProcess(manager, 10*time.Second)
		DeferCleanup(startSuiteManager)

		applyCRD(ctx, crd010)
		DeferCleanup(applyCRD, crdCurrent)
		overflow := legacyPolicy(ns, "overflow", map[string]any{"expression": "true", "maxUnavailable": int64(3_000_000_000)})
		Eventually(func() error { return k8s.Create(ctx, overflow.DeepCopy()) }).Should(Succeed())
		DeferCleanup(func(ctx SpecContext) {
			// The manager that put its finalizer on has stopped by then.
			_ = k8s.Patch(ctx, overflow, client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"finalizers":null}}`)))
			Expect(client.IgnoreNotFound(k8s.Delete(ctx, overflow))).To(Succeed())
		})

		upgrade(ctx, ns)

		pod := gatedPod(ns, "current-0", map[string]string{"app": "current"}, nil)
		Expect(k8s.Create(ctx, pod)).To(Succeed())
		Eventually(rgpGateOf(ctx, pod)).Should(Equal("True ExpressionTrue"),
			"OPERATOR BUG: a maxUnavailable count stored before the bound keeps the operator from reading any policy")
		overflowPod := gatedPod(ns, "overflow-0", map[string]string{"app": "overflow"}, nil)
		Expect(k8s.Create(ctx, overflowPod)).To(Succeed())
		Eventually(rgpGateOf(ctx, overflowPod)).Should(Equal("True ExpressionTrue"))
	})
})
