package controllers_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/gate"
)

// These specs restart the shared manager, so they run alone.
var _ = Describe("DryRun never blocks traffic", Serial, func() {
	It("sets the gate True with the would-be verdict, counts it from the pods, and goes Enforce within maxUnavailable", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 3, withGates(warmGate))
		setWarm(ctx, pods[0], "true")
		p := newPolicy(ns, "dry", "'warm' in pod.metadata.labels", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Mode = v1alpha1.ModeDryRun
			p.Spec.MaxUnavailable = ptrTo(intstr.FromInt32(1))
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(reasonAndMessage(ctx, pods[0])).Should(Equal("True DryRun: would be True (ExpressionTrue): the expression is true"))
		for _, pod := range pods[1:] {
			Eventually(reasonAndMessage(ctx, pod)).Should(Equal("True DryRun: would be False (ExpressionFalse): the expression is false"))
		}
		for _, pod := range pods {
			Eventually(conditionOf(ctx, pod, string(corev1.PodReady))).Should(HaveField("Status", corev1.ConditionTrue), "a DryRun policy must never hold a pod out of traffic")
		}
		Eventually(policyStatus(ctx, p)).Should(And(HaveField("MatchedPods", BeEquivalentTo(3)), HaveField("ReadyPods", BeEquivalentTo(1))))

		By("a changed verdict is an Event, and the pod stays Ready")
		setWarm(ctx, pods[1], "true")
		Eventually(policyStatus(ctx, p)).Should(HaveField("ReadyPods", BeEquivalentTo(2)))
		Eventually(eventReasons(ctx, ns, pods[1].Name)).Should(ContainElement(v1alpha1.ReasonDryRun))

		By("nothing of DryRun lives only in memory")
		restartManager()
		Consistently(policyStatus(ctx, p), "2s").Should(HaveField("ReadyPods", BeEquivalentTo(2)))

		By("switching to Enforce takes the would-be False pod False, within maxUnavailable")
		updatePolicy(ctx, p, func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.Mode = v1alpha1.ModeEnforce })
		Eventually(reasonAndMessage(ctx, pods[2])).Should(Equal("False ExpressionFalse: the expression is false"))
		Eventually(reasonAndMessage(ctx, pods[0])).Should(Equal("True ExpressionTrue: the expression is true"))
		Eventually(conditionOf(ctx, pods[2], string(corev1.PodReady))).Should(HaveField("Status", corev1.ConditionFalse))

		By("a second pod turning false is held True: one is the cap")
		removeWarm(ctx, pods[1])
		Eventually(eventReasons(ctx, ns, pods[1].Name)).Should(ContainElement(v1alpha1.ReasonFlipDeferred))
		Eventually(policyStatus(ctx, p)).Should(HaveField("HeldPods", BeEquivalentTo(1)))
		Consistently(statusOf(ctx, pods[1]), "2s").Should(Equal(corev1.ConditionTrue))
	})
})

var _ = Describe("a pod is never left gated by nothing", func() {
	It("releases the gate NotSelected when a pod is relabelled or the selector changes", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 2, withGates(warmGate))
		p := newPolicy(ns, "release", "false")
		createAndSettle(ctx, p, pods, corev1.ConditionFalse)

		By("a relabelled pod")
		updatePod(ctx, pods[0], func(pod *corev1.Pod) { pod.Labels["app"] = "other" })
		Eventually(gateOf(ctx, pods[0])).Should(And(HaveField("Status", corev1.ConditionTrue), HaveField("Reason", v1alpha1.ReasonNotSelected)))
		Eventually(conditionOf(ctx, pods[0], string(corev1.PodReady))).Should(HaveField("Status", corev1.ConditionTrue))

		By("an edited selector")
		updatePolicy(ctx, p, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Selector.MatchLabels = map[string]string{"app": "nothing"}
		})
		Eventually(gateOf(ctx, pods[1])).Should(And(HaveField("Status", corev1.ConditionTrue), HaveField("Reason", v1alpha1.ReasonNotSelected)))
		Eventually(eventReasons(ctx, ns, pods[1].Name)).Should(ContainElement(gate.EventGateFlipped))
	})

	It("cuts a 1 MiB message to 1,024 bytes and still writes the gate", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		big := strings.Repeat("m", 250*1024)
		pods := createPods(ctx, ns, "web", 1, withGates(warmGate), withAnnotation("big", big))
		annotation := "pod.metadata.annotations['big']"
		p := newPolicy(ns, "big", "false", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.MessageExpression = strings.Repeat(annotation+" + ", 3) + annotation
		})
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(gateOf(ctx, pods[0])).Should(And(HaveField("Status", corev1.ConditionFalse),
			HaveField("Message", And(HavePrefix("mmmm"), WithTransform(func(s string) int { return len(s) }, BeNumerically("<=", gate.MaxMessageBytes))))))
	})
})

var _ = Describe("GitOps status (kstatus)", func() {
	It("reads a settled policy as Current, an unworkable one as Failed, an unobserved spec or unready pods as InProgress", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		pods := createPods(ctx, ns, "web", 2, withGates(warmGate))
		working := newPolicy(ns, "working", "true")
		createAndSettle(ctx, working, pods, corev1.ConditionTrue)
		Eventually(kstatusOf(ctx, working)).Should(Equal(status.CurrentStatus))

		By("pods not yet True: kstatus falls back to Ready, which keeps kubectl wait's meaning")
		waiting := newPolicy(ns, "waiting", "false", func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.ConditionType = "readygate.io/waiting" })
		waitingPods := createPods(ctx, ns, "wait", 1, withGates("readygate.io/waiting"), withLabels("app", "waiting"))
		waiting.Spec.Selector.MatchLabels = map[string]string{"app": "waiting"}
		Expect(k8s.Create(ctx, waiting)).To(Succeed())
		Eventually(conditionOf(ctx, waitingPods[0], "readygate.io/waiting")).Should(HaveField("Status", corev1.ConditionFalse))
		Eventually(kstatusOf(ctx, waiting)).Should(Equal(status.InProgressStatus))
		Expect(policyCondition(ctx, waiting, v1alpha1.ConditionStalled)()).To(HaveField("Status", metav1.ConditionFalse))

		broken := newPolicy(ns, "broken", "pod.spec.nosuchfield == 1", func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.ConditionType = "readygate.io/other" })
		Expect(k8s.Create(ctx, broken)).To(Succeed())
		Eventually(kstatusOf(ctx, broken)).Should(Equal(status.FailedStatus))
		Expect(policyCondition(ctx, broken, v1alpha1.ConditionStalled)()).To(HaveField("Reason", v1alpha1.ReasonInvalidExpression))

		By("a spec change the operator has not observed yet")
		got := &v1alpha1.ReadinessGatePolicy{}
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(working), got)).To(Succeed())
		got.Spec.Expression = "1 == 1"
		Expect(k8s.Update(ctx, got)).To(Succeed())
		Expect(computeKstatus(got)).To(Equal(status.InProgressStatus))
		Eventually(policyStatus(ctx, working)).Should(HaveField("ObservedGeneration", got.Generation))
	})
})

var _ = Describe("conditionType", func() {
	It("rejects every pod condition type Kubernetes owns, as k8s.io/api declares them", func(ctx SpecContext) {
		owned := podConditionTypes()
		Expect(owned).To(ContainElements("Ready", "ContainersReady", "PodScheduled", "PodResizePending"))
		ns := newNamespace(ctx)
		for _, t := range owned {
			err := k8s.Create(ctx, newPolicy(ns, "owned", "true", func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.ConditionType = t }))
			Expect(err).To(MatchError(ContainSubstring("conditionType must be domain-prefixed")), t)
		}
	})
})

func kstatusOf(ctx SpecContext, p *v1alpha1.ReadinessGatePolicy) func() (status.Status, error) {
	return func() (status.Status, error) {
		got := &v1alpha1.ReadinessGatePolicy{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
			return "", err
		}
		return computeKstatus(got), nil
	}
}

// computeKstatus runs kstatus itself on the policy, as Flux and Argo CD do.
func computeKstatus(p *v1alpha1.ReadinessGatePolicy) status.Status {
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(p)
	Expect(err).NotTo(HaveOccurred())
	u := &unstructured.Unstructured{Object: obj}
	u.SetAPIVersion(v1alpha1.GroupVersion.String())
	u.SetKind("ReadinessGatePolicy")
	res, err := status.Compute(u)
	Expect(err).NotTo(HaveOccurred())
	return res.Status
}

// podConditionTypes reads the PodConditionType constants of the k8s.io/api
// the operator is built with, so a condition type Kubernetes adds is covered
// without a change here.
func podConditionTypes() []string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "k8s.io/api").Output()
	Expect(err).NotTo(HaveOccurred())
	file := filepath.Join(strings.TrimSpace(string(out)), "core", "v1", "types.go")
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	Expect(err).NotTo(HaveOccurred())
	var types []string
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		if id, ok := spec.Type.(*ast.Ident); !ok || id.Name != "PodConditionType" {
			return true
		}
		for _, v := range spec.Values {
			if lit, ok := v.(*ast.BasicLit); ok {
				s, err := strconv.Unquote(lit.Value)
				Expect(err).NotTo(HaveOccurred())
				types = append(types, s)
			}
		}
		return true
	})
	return types
}
