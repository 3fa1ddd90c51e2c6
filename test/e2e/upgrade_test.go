package e2e_test

import (
	"context"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/testenv"
)

// The CRD as readygate 0.1.0 shipped it: timeout where failOpenAfter is now,
// and prometheus.queries as a map of name to query.
var (
	crd010     = filepath.Join("testdata", "readygate.io_readinessgatepolicies-0.1.0.yaml")
	crdCurrent = filepath.Join("..", "..", "config", "crd", "bases", "readygate.io_readinessgatepolicies.yaml")
)

// unprefixedGate is a condition type without a domain, as 0.1.0 took.
const unprefixedGate = "legacy-warm"

// legacyPrometheus is the address of the 0.1.0 policy's Prometheus; the
// upgraded operator allows it, and never asks it, the queries being gone.
const legacyPrometheus = "http://127.0.0.1:1"

var _ = Describe("upgrading from 0.1.0", func() {
	It("reads every policy 0.1.0 stored, fails open on its timeout, and says how to mend the queries the API server pruned", func(ctx SpecContext) {
		ns := createNamespace(ctx, "upgrade")
		testenv.StopProcess(manager, 10*time.Second)
		DeferCleanup(startSuiteManager)

		By("0.1.0 stores a policy with a timeout and one with Prometheus queries")
		applyCRD(ctx, crd010)
		DeferCleanup(applyCRD, crdCurrent)
		failOpen := legacyPolicy(ns, "fail-open", map[string]any{
			"expression": "pod.metadata.labels.?ok.orValue('') == 'yes'", "timeout": "3s", "interval": "1s"})
		promql := legacyPolicy(ns, "promql", map[string]any{
			"expression": "prometheus.up == 1.0",
			"sources":    map[string]any{"prometheus": map[string]any{"address": legacyPrometheus, "queries": map[string]any{"up": "up"}}},
		})
		// 0.1.0 took condition types without a domain, which the current CRD
		// refuses on create: stored ones must still work, and their
		// finalizers come and go.
		unprefixed := legacyPolicy(ns, "unprefixed", map[string]any{"expression": "true"})
		unprefixed.Object["spec"].(map[string]any)["conditionType"] = unprefixedGate
		for _, p := range []*unstructured.Unstructured{failOpen, promql, unprefixed} {
			// Until the API server serves 0.1.0's schema, it refuses the map.
			Eventually(func() error { return k8s.Create(ctx, p.DeepCopy()) }).Should(Succeed())
		}

		By("the upgrade: the current CRD, then the current manager")
		upgrade(ctx, ns, "--prometheus-allowed-urls="+legacyPrometheus)

		currentPod := gatedPod(ns, "current-0", map[string]string{"app": "current"}, nil)
		failOpenPod := gatedPod(ns, "fail-open-0", map[string]string{"app": "fail-open"}, nil)
		Expect(k8s.Create(ctx, currentPod)).To(Succeed())
		Expect(k8s.Create(ctx, failOpenPod)).To(Succeed())
		unprefixedPod := gatedPod(ns, "unprefixed-0", map[string]string{"app": "unprefixed"}, nil)
		unprefixedPod.Spec.ReadinessGates[0].ConditionType = unprefixedGate
		Expect(k8s.Create(ctx, unprefixedPod)).To(Succeed())
		Eventually(rgpGateOf(ctx, currentPod)).Should(Equal("True ExpressionTrue"),
			"OPERATOR BUG: a policy 0.1.0 stored keeps the operator from reading any policy")
		Eventually(rgpGateOf(ctx, failOpenPod)).Should(Equal("True "+v1alpha1.ReasonTimedOut),
			"OPERATOR BUG: 0.1.0's timeout no longer fails the pod open")
		Eventually(conditionOf(ctx, unprefixedPod, unprefixedGate)).Should(Equal("True ExpressionTrue"),
			"OPERATOR BUG: a policy 0.1.0 stored with an unprefixed condition type no longer gates")
		Eventually(acceptedCondition(ctx, &v1alpha1.ReadinessGatePolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "promql"}})).Should(And(
			HaveField("Status", metav1.ConditionFalse),
			HaveField("Reason", v1alpha1.ReasonInvalidSource),
			HaveField("Message", ContainSubstring("a policy stored by readygate 0.1.0 had them as a map"))))

		By("the policies go while the manager that finalizes them runs")
		Expect(k8s.DeleteAllOf(ctx, &v1alpha1.ReadinessGatePolicy{}, client.InNamespace(ns))).To(Succeed())
		Eventually(policiesIn(ctx, ns)).Should(BeEmpty())
	})
})

// upgrade applies the current CRD and starts the current manager with the
// flags; a policy of the current schema, "current", gates rgpGate on the
// pods labelled app=current.
func upgrade(ctx SpecContext, ns string, flags ...string) {
	applyCRD(ctx, crdCurrent)
	current := &v1alpha1.ReadinessGatePolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "current"},
		Spec: v1alpha1.ReadinessGatePolicySpec{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "current"}},
			ConditionType: rgpGate, Expression: "true", OnError: v1alpha1.OnErrorHold},
	}
	// 0.1.0's schema has no onError: strict validation refuses it until the
	// current schema is served.
	Eventually(func() error { return k8s.Create(ctx, current.DeepCopy(), client.FieldValidation("Strict")) }).Should(Succeed())
	upgraded := startManager([]string{"ENABLE_WEBHOOKS=false"}, append(flags,
		"--metrics-bind-address="+freeLoopbackAddr(), "--health-probe-bind-address="+freeLoopbackAddr())...)
	DeferCleanup(testenv.StopProcess, upgraded, 10*time.Second)
}

// policiesIn lists the namespace's policies, for Eventually.
func policiesIn(ctx context.Context, ns string) func() ([]v1alpha1.ReadinessGatePolicy, error) {
	return func() ([]v1alpha1.ReadinessGatePolicy, error) {
		list := &v1alpha1.ReadinessGatePolicyList{}
		err := k8s.List(ctx, list, client.InNamespace(ns))
		return list.Items, err
	}
}

// legacyPolicy is a policy as 0.1.0 took it, gating rgpGate on the pods
// labelled app=name.
func legacyPolicy(ns, name string, spec map[string]any) *unstructured.Unstructured {
	spec["selector"] = map[string]any{"matchLabels": map[string]any{"app": name}}
	spec["conditionType"] = rgpGate
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "readygate.io/v1alpha1", "kind": "ReadinessGatePolicy",
		"metadata": map[string]any{"namespace": ns, "name": name},
		"spec":     spec,
	}}
}

// applyCRD replaces the policies' CRD with the one in file, as an upgrade
// or a downgrade does.
func applyCRD(ctx SpecContext, file string) {
	data, err := os.ReadFile(file)
	Expect(err).NotTo(HaveOccurred())
	want := &unstructured.Unstructured{}
	Expect(yaml.Unmarshal(data, &want.Object)).To(Succeed())
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(want.GroupVersionKind())
	Expect(k8s.Get(ctx, client.ObjectKey{Name: want.GetName()}, got)).To(Succeed())
	got.Object["spec"] = want.Object["spec"]
	Expect(k8s.Update(ctx, got)).To(Succeed())
}
