package webhook_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
)

// author is a user who may write policies in a namespace but gets Secrets
// only as a test grants them.
const author = "policy-author"

// asAuthor returns a client that acts as author, impersonated by the
// admin, so that the API server tells the webhook it is author writing.
func asAuthor() client.Client {
	cfg := rest.CopyConfig(cp.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: author, Groups: []string{"system:authenticated", "team-a"}}
	c, err := client.New(cfg, client.Options{Scheme: k8s.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	return c
}

// grant binds a Role of the given rules to author in ns.
func grant(ctx context.Context, ns, name string, rules ...rbacv1.PolicyRule) {
	Expect(k8s.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: rules})).To(Succeed())
	Expect(k8s.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: author}},
	})).To(Succeed())
}

// revoke deletes a grant's binding.
func revoke(ctx context.Context, ns, name string) {
	Expect(k8s.Delete(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})).To(Succeed())
}

var writePolicies = rbacv1.PolicyRule{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"readinessgatepolicies"},
	Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}}

func getSecret(name string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}, ResourceNames: []string{name}}
}

// prometheusPolicy reads Prometheus with a bearer token from Secret token.
func prometheusPolicy(ns, name, token string) *v1alpha1.ReadinessGatePolicy {
	p := newPolicy(ns, name, "prometheus.errorRate < 0.01")
	p.Spec.Sources = &v1alpha1.Sources{Prometheus: &v1alpha1.PrometheusSource{
		Address:              "http://127.0.0.1:9",
		Queries:              []v1alpha1.PrometheusQuery{{Name: "errorRate", Query: "sum by (pod) (rate(http_errors_total[1m]))"}},
		BearerTokenSecretRef: &v1alpha1.SecretKeyRef{Name: token, Key: "token"},
	}}
	return p
}

// secretDenied matches the webhook's denial of a Secret reference.
func secretDenied(fieldPath, secret string) OmegaMatcher {
	return MatchError(And(
		ContainSubstring(fieldPath+".name: Forbidden"),
		ContainSubstring(`user "`+author+`" may not get Secret "`+secret+`"`),
	))
}

var _ = Describe("the policy validator's Secret check", func() {
	var ns string
	var alice client.Client

	BeforeEach(func(ctx SpecContext) {
		ns = namespace(ctx, false)
		alice = asAuthor()
		for _, name := range []string{"token", "other", "ca"} {
			Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				StringData: map[string]string{"token": "t0ken", "ca.crt": "x"}})).To(Succeed())
		}
		grant(ctx, ns, "write-policies", writePolicies)
		Eventually(func() error { return alice.Create(ctx, newPolicy(ns, "plain", "true")) }).Should(Succeed(),
			"the author may write a policy that names no Secret")
	})

	It("denies a policy that names a Secret its author may not get, and says which field, Secret and verb", func(ctx SpecContext) {
		Expect(alice.Create(ctx, prometheusPolicy(ns, "errors", "token"))).To(secretDenied("spec.sources.prometheus.bearerTokenSecretRef", "token"))

		p := newPolicy(ns, "ca", "true")
		p.Spec.Sources = prometheusPolicy(ns, "", "token").Spec.Sources
		p.Spec.Sources.Prometheus.BearerTokenSecretRef = nil
		p.Spec.Sources.Prometheus.CASecretRef = &v1alpha1.SecretKeyRef{Name: "ca", Key: "ca.crt"}
		Expect(alice.Create(ctx, p)).To(secretDenied("spec.sources.prometheus.caSecretRef", "ca"))
	})

	It("admits it once the author may get that very Secret, by resourceNames", func(ctx SpecContext) {
		grant(ctx, ns, "get-token", getSecret("token"))
		Eventually(func() error { return alice.Create(ctx, prometheusPolicy(ns, "errors", "token")) }).Should(Succeed())
		// The grant names one Secret: another one is still denied.
		Expect(alice.Create(ctx, prometheusPolicy(ns, "errors-2", "other"))).To(secretDenied("spec.sources.prometheus.bearerTokenSecretRef", "other"))
	})

	It("checks every reference again when what the Secrets are used for changes, and nothing else", func(ctx SpecContext) {
		grant(ctx, ns, "get-token", getSecret("token"))
		p := prometheusPolicy(ns, "errors", "token")
		Eventually(func() error { return alice.Create(ctx, p) }).Should(Succeed())
		revoke(ctx, ns, "get-token")
		Eventually(func() error { return alice.Create(ctx, prometheusPolicy(ns, "probe", "token"), client.DryRunAll) }).Should(
			secretDenied("spec.sources.prometheus.bearerTokenSecretRef", "token"), "the author has lost get on the Secret")

		// Merge patches: the operator adds its finalizer meanwhile.
		patch := func(change func(*v1alpha1.ReadinessGatePolicy)) error {
			changed := p.DeepCopy()
			change(changed)
			return alice.Patch(ctx, changed, client.MergeFrom(p))
		}
		Expect(patch(func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.Suspend = true })).To(Succeed(),
			"a change that does not touch how the Secret is used passes: the policy stays suspendable and deletable")

		By("a change of where the token goes, what it reads, or what the policy shows of it is the author's use of the Secret")
		denied := secretDenied("spec.sources.prometheus.bearerTokenSecretRef", "token")
		Expect(patch(func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.Sources.Prometheus.Address = "http://127.0.0.2:9" })).To(denied)
		Expect(patch(func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.Sources.Prometheus.InsecureSkipVerify = true })).To(denied)
		Expect(patch(func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Sources.Prometheus.Queries[0].Query = "sum by (pod) (up)"
		})).To(denied)
		Expect(patch(func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.MessageExpression = "'rate ' + string(prometheus.errorRate)"
		})).To(denied)
		Expect(patch(func(p *v1alpha1.ReadinessGatePolicy) { p.Spec.Sources.Prometheus.BearerTokenSecretRef.Name = "other" })).To(
			secretDenied("spec.sources.prometheus.bearerTokenSecretRef", "other"))
		Expect(alice.Delete(ctx, p)).To(Succeed())
	})
})
