package e2e_test

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/readygate/readygate/api/v1alpha1"
)

// explainJSON is explain -o json as a script reads it: the field names are
// the contract, so they are spelled out here rather than taken from the plugin.
type explainJSON struct {
	Pod       string `json:"pod"`
	Namespace string `json:"namespace"`
	Ready     string `json:"ready"`
	Next      string `json:"next"`
	Policies  []struct {
		Name          string `json:"name"`
		ConditionType string `json:"conditionType"`
		Role          string `json:"role"`
		Condition     *struct {
			Status string `json:"status"`
			Reason string `json:"reason"`
		} `json:"condition"`
		Now *struct {
			Outcome   string `json:"outcome"`
			Message   string `json:"message"`
			Variables []struct {
				Name  string `json:"name"`
				Value any    `json:"value"`
			} `json:"variables"`
		} `json:"now"`
	} `json:"policies"`
}

// rgpPolicy is a policy named NAME that decides rgpGate on the pods
// labelled app=APP; the caller fills in the expressions.
func rgpPolicy(ns, name, app string) *v1alpha1.ReadinessGatePolicy {
	return &v1alpha1.ReadinessGatePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.ReadinessGatePolicySpec{
			Selector:      metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			ConditionType: rgpGate,
		},
	}
}

// promotedPolicy gates the pods labelled app=APP on their own label
// promoted=yes: a policy that reads only the pod.
func promotedPolicy(ns, app string) *v1alpha1.ReadinessGatePolicy {
	p := rgpPolicy(ns, app+"-promoted", app)
	p.Spec.Variables = []v1alpha1.Variable{{Name: "promoted", Expression: "pod.metadata.labels.?promoted.orValue('none')"}}
	p.Spec.Expression = "variables.promoted == 'yes'"
	p.Spec.MessageExpression = "'promoted=' + variables.promoted"
	return p
}

var _ = Describe("kubectl-rgp", func() {
	It("explains a pod gated by a pod-only policy, as text and as JSON, and follows a relabel", func(ctx SpecContext) {
		ns := createNamespace(ctx, "rgp-explain")
		policy := promotedPolicy(ns, "web")
		Expect(k8s.Create(ctx, policy)).To(Succeed())
		pod := gatedPod(ns, "web-0", map[string]string{"app": "web", "promoted": "no"}, nil)
		Expect(k8s.Create(ctx, pod)).To(Succeed())
		Eventually(rgpGateOf(ctx, pod)).Should(Equal("False ExpressionFalse"))
		// The simulated kubelet writes the pod's Ready condition on its own time.
		Eventually(conditionOf(ctx, pod, "Ready")).Should(HavePrefix("False "))

		By("the text names the policy, the condition, the verdict now, the variables and the next step")
		run := rgp(ctx, cp.KubeconfigPath, "explain", "pod/web-0", "-n", ns)
		Expect(run.code).To(Equal(0), run.stderr)
		Expect(run.stderr).To(BeEmpty())
		Expect(run.lines()[0]).To(Equal("Pod rgp-explain/web-0  Ready=False"))
		Expect(run.stdout).To(ContainSubstring("\nPolicy web-promoted  condition " + rgpGate + "  gates\n"))
		Expect(run.stdout).To(MatchRegexp(`\n  condition:  False \(ExpressionFalse\): promoted=no  \(since \S+, \S+ ago\)\n`))
		Expect(run.stdout).To(ContainSubstring("\n  now:        false: promoted=no  (cost "))
		Expect(run.stdout).To(ContainSubstring("\n    variables.promoted = \"no\"\n"))
		Expect(run.lines()[len(run.lines())-1]).To(Equal("Next: " + rgpGate + " turns True when the expression holds; now it is false: promoted=no"))

		By("-o json has the same facts under the documented field names")
		got := explainAsJSON(Default, ctx, ns, "web-0")
		Expect(got.Pod).To(Equal("web-0"))
		Expect(got.Namespace).To(Equal(ns))
		Expect(got.Ready).To(Equal("False"))
		Expect(got.Next).To(ContainSubstring("turns True when the expression holds"))
		Expect(got.Policies).To(HaveLen(1))
		p := got.Policies[0]
		Expect([]string{p.Name, p.ConditionType, p.Role}).To(Equal([]string{"web-promoted", rgpGate, "gates"}))
		Expect(p.Condition).NotTo(BeNil())
		Expect(p.Condition.Status + " " + p.Condition.Reason).To(Equal("False ExpressionFalse"))
		Expect(p.Now).NotTo(BeNil())
		Expect(p.Now.Outcome).To(Equal("false"))
		Expect(p.Now.Message).To(Equal("promoted=no"))
		Expect(p.Now.Variables).To(HaveLen(1))
		Expect(p.Now.Variables[0].Name).To(Equal("promoted"))
		Expect(p.Now.Variables[0].Value).To(Equal("no"))

		By("relabelling the pod flips the verdict, and explain follows")
		setLabel(ctx, pod, "promoted", "yes")
		Eventually(rgpGateOf(ctx, pod)).Should(Equal("True ExpressionTrue"))
		Eventually(func(g Gomega) {
			got := explainAsJSON(g, ctx, ns, "web-0")
			g.Expect(got.Ready).To(Equal("True"))
			g.Expect(got.Policies[0].Condition.Status).To(Equal("True"))
			g.Expect(got.Policies[0].Now.Outcome).To(Equal("true"))
			g.Expect(got.Policies[0].Now.Variables[0].Value).To(Equal("yes"))
			g.Expect(got.Next).To(HavePrefix("nothing holds the pod back"))
		}).Should(Succeed())
	})

	It("status --watch prints a progress bar and exits 0 once the last pod turns True", func(ctx SpecContext) {
		ns := createNamespace(ctx, "rgp-watch")
		policy := promotedPolicy(ns, "shop")
		Expect(k8s.Create(ctx, policy)).To(Succeed())
		const pods = 3
		for i := range pods {
			pod := gatedPod(ns, fmt.Sprintf("shop-%d", i), map[string]string{"app": "shop"}, nil)
			Expect(k8s.Create(ctx, pod)).To(Succeed())
			Eventually(rgpGateOf(ctx, pod)).Should(Equal("False ExpressionFalse"))
		}

		watch := startRGP(ctx, "status", policy.Name, "-n", ns, "--watch", "--timeout", "60s", "--interval", "200ms")
		Eventually(watch.Out).Should(gbytes.Say(`rgp-watch/shop-promoted \[\.{30}\] 0/3 True\n`))
		for i := range pods {
			pod := gatedPod(ns, fmt.Sprintf("shop-%d", i), nil, nil)
			setLabel(ctx, pod, "promoted", "yes")
			Eventually(rgpGateOf(ctx, pod)).Should(Equal("True ExpressionTrue"))
			Eventually(watch.Out).Should(gbytes.Say(`rgp-watch/shop-promoted \[#{%d}\.{%d}\] %d/3 True\n`, 10*(i+1), 30-10*(i+1), i+1))
			if i < pods-1 {
				Expect(watch.ExitCode()).To(Equal(-1), "status --watch exited before every pod was True")
			}
		}
		Eventually(watch).Should(gexec.Exit(0))
		Expect(watch.Out).To(gbytes.Say("every matched pod is True\n"))
		Expect(watch.Err.Contents()).To(BeEmpty())
	})

	It("status --watch exits 1 naming the policy when a pod never turns True", func(ctx SpecContext) {
		ns := createNamespace(ctx, "rgp-watch-timeout")
		policy := promotedPolicy(ns, "stuck")
		Expect(k8s.Create(ctx, policy)).To(Succeed())
		pod := gatedPod(ns, "stuck-0", map[string]string{"app": "stuck"}, nil)
		Expect(k8s.Create(ctx, pod)).To(Succeed())
		Eventually(rgpGateOf(ctx, pod)).Should(Equal("False ExpressionFalse"))

		watch := startRGP(ctx, "status", policy.Name, "-n", ns, "--watch", "--timeout", "2s", "--interval", "200ms")
		Eventually(watch).Should(gexec.Exit(1))
		Expect(watch.Out).To(gbytes.Say(`rgp-watch-timeout/stuck-promoted \[\.{30}\] 0/1 True\n`))
		Expect(string(watch.Err.Contents())).To(Equal("error: timed out after 2s: stuck-promoted has 0 of 1 pods True\n"))
	})

	Describe("bad input against the live cluster", Ordered, ContinueOnFailure, func() {
		var unreachable string
		BeforeAll(func(ctx SpecContext) {
			createNamespace(ctx, "rgp-mine")
			other := createNamespace(ctx, "rgp-theirs")
			Expect(k8s.Create(ctx, promotedPolicy(other, "theirs"))).To(Succeed())
			Expect(k8s.Create(ctx, gatedPod(other, "theirs-0", map[string]string{"app": "theirs"}, nil))).To(Succeed())
			// A port that was free a moment ago: nothing listens there.
			unreachable = writeKubeconfig("https://"+freeLoopbackAddr(), nil, &clientcmdapi.AuthInfo{Token: "unused"})
		})

		DescribeTable("one line on stderr and exit 2, never a stack trace",
			func(ctx SpecContext, noCluster bool, args []string, want string) {
				kubeconfig := cp.KubeconfigPath
				if noCluster {
					kubeconfig = unreachable
				}
				run := rgp(ctx, kubeconfig, args...)
				Expect(run.code).To(Equal(2))
				Expect(run.stdout).To(BeEmpty())
				Expect(strings.Split(strings.TrimSuffix(run.stderr, "\n"), "\n")).To(ConsistOf(HavePrefix("error: ")), "one line on stderr")
				Expect(run.stderr).To(ContainSubstring(want))
			},
			Entry("explain: unknown pod", false, []string{"explain", "pod/nope", "-n", "rgp-mine"}, `pod "nope" not found in namespace "rgp-mine"`),
			Entry("explain: a pod of another namespace", false, []string{"explain", "pod/theirs-0", "-n", "rgp-mine"}, `pod "theirs-0" not found in namespace "rgp-mine"`),
			Entry("explain: no cluster", true, []string{"explain", "pod/theirs-0", "-n", "rgp-theirs"}, "error: cannot reach the cluster at https://127.0.0.1:"),
			Entry("status: unknown policy", false, []string{"status", "nope", "-n", "rgp-mine"}, `"nope" not found`),
			Entry("status: a policy of another namespace", false, []string{"status", "theirs-promoted", "-n", "rgp-mine"}, `"rgp-mine"`),
			Entry("status: no cluster", true, []string{"status", "-n", "rgp-theirs"}, "error: cannot reach the cluster at https://127.0.0.1:"),
			Entry("status --watch: no cluster", true, []string{"status", "--watch", "--timeout", "10s", "-n", "rgp-theirs"}, "error: cannot reach the cluster at https://127.0.0.1:"),
		)
	})
})

// explainAsJSON runs explain -o json and parses it.
func explainAsJSON(g Gomega, ctx SpecContext, ns, pod string) explainJSON {
	run := rgp(ctx, cp.KubeconfigPath, "explain", "pod/"+pod, "-n", ns, "-o", "json")
	g.Expect(run.code).To(Equal(0), run.stderr)
	var got explainJSON
	g.Expect(json.Unmarshal([]byte(run.stdout), &got)).To(Succeed(), run.stdout)
	return got
}

// startRGP starts kubectl-rgp with the admin kubeconfig and returns its
// session; it is killed when the spec ends.
func startRGP(ctx SpecContext, args ...string) *gexec.Session {
	cmd := exec.CommandContext(ctx, pluginBinary, append([]string{"--kubeconfig=" + cp.KubeconfigPath}, args...)...)
	session, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(session.Kill)
	return session
}
