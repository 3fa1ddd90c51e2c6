package chart

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/readygate/readygate/internal/testenv"
	"github.com/readygate/readygate/test/installtest"
)

// The chart rendered as helm install would (self-signed certificates),
// applied to a real control plane, and the manager run as its Deployment
// runs it, with a token of its service account: the core scenario then
// passes only if the chart's RBAC is enough, and its webhooks right.
var installed = &installtest.Installation{Namespace: namespace}

func TestInstall(t *testing.T) {
	installtest.Run(t, "the Helm chart installs with its service account's permissions")
}

var _ = installtest.DescribeInstall("the Helm chart", installed)

var _ = BeforeSuite(func(ctx SpecContext) {
	bin := installtest.BuildManager()
	rendered := render(GinkgoT(), certModes["self-signed"]...)
	objs, webhooks := split(rendered)
	Expect(webhooks).To(HaveLen(2))
	path := filepath.Join(GinkgoT().TempDir(), "webhooks.yaml")
	Expect(os.WriteFile(path, yamlDocs(webhooks), 0o600)).To(Succeed())

	installed.Cluster = installtest.StartCluster(testenv.Options{Simulator: true, WebhookManifests: []string{path}})
	// helm install --create-namespace
	installed.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})
	installed.Create(ctx, objs...)

	deployment := &appsv1.Deployment{}
	Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(named(GinkgoT(), rendered, "Deployment", "readygate-controller-manager"), deployment)).To(Succeed())
	installed.ServiceAccount = deployment.Spec.Template.Spec.ServiceAccountName
	kubeconfig := installed.ServiceAccountKubeconfig(ctx, namespace, installed.ServiceAccount)
	certDir := mountSecret(named(GinkgoT(), rendered, "Secret", "readygate-metrics-server-cert"))
	installed.StartManager(bin, kubeconfig, installtest.ManagerContainer(&deployment.Spec.Template.Spec), "--metrics-cert-dir="+certDir)
}, NodeTimeout(5*time.Minute))

var _ = AfterSuite(func() {
	installed.Stop()
})

// split separates the webhook configurations, which envtest installs
// pointed at the manager's local webhook server, from the other objects.
func split(rendered []map[string]any) (objs []client.Object, webhooks []map[string]any) {
	for _, o := range rendered {
		switch o["kind"] {
		case "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration":
			webhooks = append(webhooks, o)
		default:
			objs = append(objs, &unstructured.Unstructured{Object: o})
		}
	}
	return objs, webhooks
}

func yamlDocs(objs []map[string]any) []byte {
	var out []byte
	for _, o := range objs {
		doc, err := yaml.Marshal(o)
		Expect(err).NotTo(HaveOccurred())
		out = append(append(out, "---\n"...), doc...)
	}
	return out
}

// mountSecret writes a rendered Secret's files into a directory, as the
// Deployment's volume mounts it, and trusts its CA for the metrics scrapes.
func mountSecret(rendered map[string]any) string {
	secret := &corev1.Secret{}
	Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(rendered, secret)).To(Succeed())
	dir := GinkgoT().TempDir()
	for file, data := range secret.Data {
		Expect(os.WriteFile(filepath.Join(dir, file), data, 0o600)).To(Succeed())
	}
	roots := x509.NewCertPool()
	Expect(roots.AppendCertsFromPEM(secret.Data["ca.crt"])).To(BeTrue(), "the Secret's ca.crt holds no PEM certificate")
	installed.MetricsTLS = &tls.Config{RootCAs: roots, ServerName: "readygate-controller-manager-metrics-service." + namespace + ".svc", MinVersion: tls.VersionTLS12}
	return dir
}
