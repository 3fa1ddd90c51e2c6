package e2e_test

import (
	"context"
	"net/http"
	"regexp"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/testenv"
)

// healthzPolicy gates the pods labelled app=APP on their /healthz answering 200.
func healthzPolicy(ns, app string) *v1alpha1.ReadinessGatePolicy {
	p := rgpPolicy(ns, app+"-healthz", app)
	p.Spec.Expression = "http.statusCode == 200"
	p.Spec.MessageExpression = "'healthz answered ' + string(http.statusCode)"
	p.Spec.Interval = &metav1.Duration{Duration: time.Second}
	p.Spec.Sources = &v1alpha1.Sources{HTTP: &v1alpha1.HTTPSource{PodEndpoint: v1alpha1.PodEndpoint{
		Port: intstr.FromInt32(netnsHostPort), Path: "/healthz"}}}
	return p
}

// servedPod is a pod gated by healthzPolicy(ns, app) whose IP is the host's.
func servedPod(ctx context.Context, ns, app string, host *netnsHost) *corev1.Pod {
	Expect(k8s.Create(ctx, healthzPolicy(ns, app))).To(Succeed())
	pod := gatedPod(ns, app+"-0", map[string]string{"app": app}, map[string]string{testenv.AnnotationPodIP: host.IP})
	Expect(k8s.Create(ctx, pod)).To(Succeed())
	return pod
}

var _ = Describe("kubectl-rgp on an http policy served through pods/proxy", func() {
	It("explains the pod with the answer read through the API server, as the operator gates it", func(ctx SpecContext) {
		host := startNetnsHost()
		ns := createNamespace(ctx, "rgp-http")
		pod := servedPod(ctx, ns, "api", host)
		Eventually(rgpGateOf(ctx, pod)).Should(Equal("False ExpressionFalse"))

		from := "http (from pods/proxy http:api-0:8080/healthz) = "
		run := rgp(ctx, cp.KubeconfigPath, "explain", "pod/api-0", "-n", ns)
		Expect(run.code).To(Equal(0), run.stderr)
		Expect(run.stdout).To(ContainSubstring("\n  now:        false: healthz answered 503  (cost "))
		Expect(run.stdout).To(MatchRegexp(`\n    ` + regexp.QuoteMeta(from) + `\{.*"body":"warming up".*"statusCode":503.*\}\n`))
		Expect(run.stdout).To(ContainSubstring("\n  condition:  False (ExpressionFalse): healthz answered 503"))

		By("the host answers 200: the operator opens the gate and explain reads the new answer")
		host.Answer(http.StatusOK, "ok")
		Eventually(rgpGateOf(ctx, pod)).Should(Equal("True ExpressionTrue"))
		Eventually(func(g Gomega) {
			run := rgp(ctx, cp.KubeconfigPath, "explain", "pod/api-0", "-n", ns)
			g.Expect(run.code).To(Equal(0), run.stderr)
			g.Expect(run.stdout).To(ContainSubstring("\n  now:        true: healthz answered 200  (cost "))
			g.Expect(run.stdout).To(MatchRegexp(`\n    ` + regexp.QuoteMeta(from) + `\{.*"body":"ok".*"statusCode":200.*\}\n`))
			g.Expect(run.stdout).To(ContainSubstring("\n  condition:  True (ExpressionTrue): healthz answered 200"))
		}).Should(Succeed())
	})

	It("explains the pod to a user who may read the namespace but not pods/proxy", func(ctx SpecContext) {
		host := startNetnsHost()
		host.Answer(http.StatusOK, "ok")
		ns := createNamespace(ctx, "rgp-reader")
		pod := servedPod(ctx, ns, "api", host)
		Eventually(rgpGateOf(ctx, pod)).Should(Equal("True ExpressionTrue"))

		kubeconfig := namespaceReader(ctx, ns)
		Eventually(func(g Gomega) {
			run := rgp(ctx, kubeconfig, "explain", "pod/api-0", "-n", ns)
			g.Expect(run.code).To(Equal(0), run.stderr)
			g.Expect(run.stderr).To(BeEmpty())
			g.Expect(run.stdout).To(ContainSubstring("\n    http (from pods/proxy http:api-0:8080/healthz): not readable: you lack get pods/proxy in namespace rgp-reader\n"))
			g.Expect(run.stdout).To(ContainSubstring("\n  now:        unknown: cannot read http without get pods/proxy in namespace rgp-reader"))
			g.Expect(run.stdout).To(ContainSubstring("\n  condition:  True (ExpressionTrue): healthz answered 200"))
		}).Should(Succeed())
	})
})

// namespaceReader creates a ServiceAccount that may only read the
// namespace's pods, policies, EndpointSlices and Events (no pods/proxy),
// and returns a kubeconfig with a token of it.
func namespaceReader(ctx context.Context, ns string) string {
	read := []string{"get", "list", "watch"}
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: ns},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods", "events"}, Verbs: read},
			{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"readinessgatepolicies"}, Verbs: read},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: read},
		},
	}
	Expect(k8s.Create(ctx, role)).To(Succeed())
	account := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: ns}}
	Expect(k8s.Create(ctx, account)).To(Succeed())
	Expect(k8s.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: account.Name, Namespace: ns}},
	})).To(Succeed())
	token := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}
	Expect(k8s.SubResource("token").Create(ctx, account, token)).To(Succeed())
	return writeKubeconfig(cp.Config.Host, cp.Config.CAData, &clientcmdapi.AuthInfo{Token: token.Status.Token})
}
