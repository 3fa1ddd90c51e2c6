package install_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	olmcrds "github.com/operator-framework/api/crds"
	operatorsv1 "github.com/operator-framework/api/pkg/operators/v1"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	certutil "k8s.io/client-go/util/cert"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/readygate/readygate/internal/testenv"
	"github.com/readygate/readygate/test/installtest"
)

// The OLM operator itself, built from the module proxy (hack/build-olm.sh),
// installs the bundle's CSV into a control plane of its own. The catalog
// operator's part (the CRD, the service account and its RBAC from an
// InstallPlan) is done by hand as above; the kubelet simulator runs the
// deployment's pod, so it becomes available without an image.
var _ = Describe("the OLM operator", Ordered, func() {
	var olm *installtest.Cluster

	BeforeAll(func(ctx SpecContext) {
		olm = startOLM(ctx, "deployment-controller", "replicaset-controller")
		installBundleObjects(ctx, olm, bundle)
		installServiceAccount(ctx, olm, bundle.CSV)
	}, NodeTimeout(3*time.Minute))

	It("takes the bundle's CSV to Succeeded", func(ctx SpecContext) {
		installCSV(ctx, olm, bundleDir)
	}, SpecTimeout(4*time.Minute))

	It("runs the CSV's deployment as its service account, with the webhooks' certificate mounted", func(ctx SpecContext) {
		deployment := &appsv1.Deployment{}
		name := bundle.CSV.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0].Name
		Expect(olm.K8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: name}, deployment)).To(Succeed())
		Expect(deployment.Spec.Template.Spec.ServiceAccountName).To(Equal(bundle.CSV.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0].Spec.Template.Spec.ServiceAccountName))
		var mounts []string
		for _, c := range deployment.Spec.Template.Spec.Containers {
			for _, m := range c.VolumeMounts {
				mounts = append(mounts, m.MountPath)
			}
		}
		Expect(mounts).To(ContainElement("/tmp/k8s-webhook-server/serving-certs"), "the manager reads its webhook certificate from there")
	})

	It("registers the webhooks the CSV describes", func(ctx SpecContext) {
		mutating := &unstructured.UnstructuredList{}
		mutating.SetAPIVersion("admissionregistration.k8s.io/v1")
		mutating.SetKind("MutatingWebhookConfigurationList")
		validating := mutating.DeepCopy()
		validating.SetKind("ValidatingWebhookConfigurationList")
		Expect(olm.K8s.List(ctx, mutating)).To(Succeed())
		Expect(olm.K8s.List(ctx, validating)).To(Succeed())
		var names []string
		for _, list := range []*unstructured.UnstructuredList{mutating, validating} {
			for _, cfg := range list.Items {
				webhooks, _, _ := unstructured.NestedSlice(cfg.Object, "webhooks")
				for _, w := range webhooks {
					names = append(names, w.(map[string]any)["name"].(string))
				}
			}
		}
		want := make([]string, 0, len(bundle.CSV.Spec.WebhookDefinitions))
		for _, def := range bundle.CSV.Spec.WebhookDefinitions {
			want = append(want, def.GenerateName)
		}
		Expect(names).To(ConsistOf(want))
	})
	It("routes the webhooks only to readygate's pods, not to another kubebuilder operator's in the shared namespace", func(ctx SpecContext) {
		other := createOtherOperatorPod(ctx, olm)
		DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(olm.K8s.Delete(ctx, other))).To(Succeed()) })
		expectWebhooksRouteOnlyToReadygate(ctx, olm, bundle.CSV, other)
	})
})

// bundleDir is the bundle make bundle generates.
var bundleDir = filepath.Join("..", "..", "bundle")

// startOLM starts a control plane running controllers of
// kube-controller-manager, with OLM's CRDs, the operators namespace and its
// AllNamespaces OperatorGroup, and OLM's operator.
func startOLM(ctx SpecContext, controllers ...string) *installtest.Cluster {
	binary := os.Getenv("OLM_BINARY")
	Expect(binary).NotTo(BeEmpty(), "OLM_BINARY is not set: run the tests through `make test`, which builds OLM")
	olm := installtest.StartCluster(testenv.Options{Simulator: true, Controllers: controllers}, operatorsv1.AddToScheme)
	DeferCleanup(olm.Stop)

	olm.CreateCRDs(ctx, olmcrds.ClusterServiceVersion(), olmcrds.OperatorGroup(), olmcrds.OperatorCondition(), olmcrds.OLMConfig(),
		olmcrds.Subscription(), olmcrds.InstallPlan(), olmcrds.CatalogSource(), olmcrds.Operator())
	olm.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "olm"}}, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}},
		// An OperatorGroup without a selector or target namespaces: AllNamespaces.
		&operatorsv1.OperatorGroup{ObjectMeta: metav1.ObjectMeta{Name: "global-operators", Namespace: operatorNamespace}})

	// Without TLS its health server takes :8080 on every address, which
	// the test packages running beside this one bind on loopback IPs
	// for their pods' servers; with TLS it takes :8443, which none use.
	cert, key, err := certutil.GenerateSelfSignedCertKey("127.0.0.1", nil, nil)
	Expect(err).NotTo(HaveOccurred())
	dir := GinkgoT().TempDir()
	certPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	Expect(os.WriteFile(certPath, cert, 0o600)).To(Succeed())
	Expect(os.WriteFile(keyPath, key, 0o600)).To(Succeed())
	cmd := exec.Command(binary, "--namespace=olm", "--writeStatusName=", "--writePackageServerStatusName=", "--tls-cert="+certPath, "--tls-key="+keyPath, "--client-ca="+certPath)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+olm.CP.KubeconfigPath)
	cmd.Stdout, cmd.Stderr = GinkgoWriter, GinkgoWriter
	Expect(cmd.Start()).To(Succeed())
	DeferCleanup(testenv.StopProcess, cmd, 10*time.Second)
	return olm
}

// installCSV creates the CSV of the bundle in dir, exactly as its file has
// it, in the namespace a Subscription would install it to, and waits until
// OLM reports it Succeeded.
func installCSV(ctx SpecContext, olm *installtest.Cluster, dir string) *unstructured.Unstructured {
	raw, err := os.ReadFile(filepath.Join(dir, "manifests", "readygate.clusterserviceversion.yaml"))
	Expect(err).NotTo(HaveOccurred())
	csv := &unstructured.Unstructured{}
	Expect(yaml.Unmarshal(raw, &csv.Object)).To(Succeed())
	csv.SetNamespace(operatorNamespace)
	Expect(olm.K8s.Create(ctx, csv)).To(Succeed())
	Eventually(func(g Gomega) {
		g.Expect(olm.K8s.Get(ctx, client.ObjectKeyFromObject(csv), csv)).To(Succeed())
		phase, _, _ := unstructured.NestedString(csv.Object, "status", "phase")
		reason, _, _ := unstructured.NestedString(csv.Object, "status", "reason")
		message, _, _ := unstructured.NestedString(csv.Object, "status", "message")
		g.Expect(phase).To(Equal("Succeeded"), "reason %s: %s", reason, message)
	}).WithTimeout(3 * time.Minute).Should(Succeed())
	return csv
}

// createOtherOperatorPod creates the pod of another operator scaffolded by
// kubebuilder, installed by OLM into the same namespace, labelled as
// kubebuilder labels its pods.
func createOtherOperatorPod(ctx SpecContext, olm *installtest.Cluster) *corev1.Pod {
	other := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "other-operator-controller-manager", Namespace: operatorNamespace,
			Labels: map[string]string{"control-plane": "controller-manager", "app.kubernetes.io/name": "other-operator"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "manager", Image: "other:latest"}}},
	}
	Expect(olm.K8s.Create(ctx, other)).To(Succeed())
	return other
}

// expectWebhooksRouteOnlyToReadygate checks that the Service OLM made for
// the CSV's webhooks, which selects with the CSV deployment's selector,
// selects readygate's pods and not the other operator's.
func expectWebhooksRouteOnlyToReadygate(ctx SpecContext, olm *installtest.Cluster, csv *operatorsv1alpha1.ClusterServiceVersion, other *corev1.Pod) {
	name := csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0].Name
	service := &corev1.Service{}
	Expect(olm.K8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: name + "-service"}, service)).To(Succeed())
	Expect(service.Spec.Selector).NotTo(BeEmpty())
	pods := &corev1.PodList{}
	Expect(olm.K8s.List(ctx, pods, client.InNamespace(operatorNamespace), client.MatchingLabels(service.Spec.Selector))).To(Succeed())
	selected := make([]string, 0, len(pods.Items))
	for _, p := range pods.Items {
		selected = append(selected, p.Name)
	}
	Expect(selected).NotTo(BeEmpty())
	Expect(selected).NotTo(ContainElement(other.Name), "OLM's webhook Service %s selects %v", service.Name, service.Spec.Selector)
}
