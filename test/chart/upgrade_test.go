package chart

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// An upgrade renders against the cluster (helm's lookup): the chart must
// find the certificates it generated at install and keep them, or every
// upgrade would swap the webhooks' CA under the running replicas.
var _ = Describe("an upgrade of the self-signed install", func() {
	It("keeps the certificates and the CA the webhooks trust", func(ctx SpecContext) {
		upgrade := parse(GinkgoT(), helm(GinkgoT(), "template", release, chartDir, "--namespace", namespace,
			"--dry-run=server", "--kubeconfig", installed.CP.KubeconfigPath, "--set", certModes["self-signed"][0]))
		for _, name := range []string{"readygate-webhook-server-cert", "readygate-metrics-server-cert"} {
			installedSecret := &corev1.Secret{}
			Expect(installed.K8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, installedSecret)).To(Succeed())
			rendered := named(GinkgoT(), upgrade, "Secret", name)["data"].(map[string]any)
			Expect(rendered).To(HaveLen(len(installedSecret.Data)))
			for file, data := range installedSecret.Data {
				Expect(decode(GinkgoT(), rendered[file].(string))).To(Equal(data), "%s of %s", file, name)
			}
		}
		ca := named(GinkgoT(), upgrade, "Secret", "readygate-webhook-server-cert")["data"].(map[string]any)["ca.crt"]
		Expect(caBundle(named(GinkgoT(), upgrade, "MutatingWebhookConfiguration", "readygate-mutating-webhook-configuration"))).To(Equal(ca))
	})
})
