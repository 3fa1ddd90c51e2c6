package install_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/operator-framework/api/pkg/manifests"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/readygate/readygate/internal/testenv"
)

// What OLM's catalog operator and OLM do with a bundle, done by hand, so
// that the manager can run as the CSV's service account outside a pod.

// webhookConfigurations are the configurations OLM creates from the CSV's
// webhookdefinitions for an AllNamespaces OperatorGroup: one per
// definition, with no namespaceSelector. envtest points them at the local
// webhook server.
func webhookConfigurations(csv *operatorsv1alpha1.ClusterServiceVersion) []byte {
	docs := make([][]byte, 0, len(csv.Spec.WebhookDefinitions))
	for _, def := range csv.Spec.WebhookDefinitions {
		var obj any
		meta := metav1.ObjectMeta{Name: def.GenerateName}
		switch def.Type {
		case operatorsv1alpha1.MutatingAdmissionWebhook:
			obj = &admissionregistrationv1.MutatingWebhookConfiguration{
				TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"},
				ObjectMeta: meta,
				Webhooks:   []admissionregistrationv1.MutatingWebhook{def.GetMutatingWebhook(operatorNamespace, nil, nil)},
			}
		case operatorsv1alpha1.ValidatingAdmissionWebhook:
			obj = &admissionregistrationv1.ValidatingWebhookConfiguration{
				TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
				ObjectMeta: meta,
				Webhooks:   []admissionregistrationv1.ValidatingWebhook{def.GetValidatingWebhook(operatorNamespace, nil, nil)},
			}
		default:
			Fail(fmt.Sprintf("webhook %s has type %s, which this test does not install", def.GenerateName, def.Type))
		}
		doc, err := yaml.Marshal(obj)
		Expect(err).NotTo(HaveOccurred())
		docs = append(docs, doc)
	}
	Expect(docs).NotTo(BeEmpty(), "the CSV describes no webhooks")
	return bytes.Join(docs, []byte("---\n"))
}

// installBundleObjects creates the operator's namespace (the
// OperatorGroup's, which exists before OLM installs anything), the bundle's
// CRDs and its other manifests (the Secret and metrics reader ClusterRoles,
// the metrics Service) as OLM would.
func installBundleObjects(ctx context.Context, c *cluster, b *manifests.Bundle) {
	Expect(c.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}})).To(Succeed())
	Expect(b.V1CRDs).NotTo(BeEmpty())
	createCRDs(ctx, c, b.V1CRDs...)
	for _, obj := range b.Objects {
		switch obj.GetKind() {
		case "ClusterServiceVersion", "CustomResourceDefinition":
		default:
			obj = obj.DeepCopy()
			if obj.GetKind() != "ClusterRole" {
				obj.SetNamespace(operatorNamespace)
			}
			Expect(c.k8s.Create(ctx, obj)).To(Succeed())
		}
	}
}

func createCRDs(ctx context.Context, c *cluster, crds ...*apiextensionsv1.CustomResourceDefinition) {
	for _, crd := range crds {
		crd = crd.DeepCopy()
		Expect(c.k8s.Create(ctx, crd)).To(Succeed())
		Eventually(func(g Gomega) {
			got := &apiextensionsv1.CustomResourceDefinition{}
			g.Expect(c.k8s.Get(ctx, client.ObjectKeyFromObject(crd), got)).To(Succeed())
			established := false
			for _, c := range got.Status.Conditions {
				established = established || (c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue)
			}
			g.Expect(established).To(BeTrue())
		}).Should(Succeed())
	}
}

// installServiceAccount creates the operator's service account and grants
// it exactly the CSV's permissions, the way OLM names them, and returns a kubeconfig with a token of that service account.
func installServiceAccount(ctx context.Context, c *cluster, csv *operatorsv1alpha1.ClusterServiceVersion) string {
	strategy := csv.Spec.InstallStrategy.StrategySpec
	Expect(strategy.DeploymentSpecs).To(HaveLen(1))
	account := strategy.DeploymentSpecs[0].Spec.Template.Spec.ServiceAccountName
	Expect(c.k8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: account, Namespace: operatorNamespace}})).To(Succeed())

	subjectsOf := func(sa string) []rbacv1.Subject {
		return []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: operatorNamespace}}
	}
	for i, p := range strategy.Permissions {
		name := fmt.Sprintf("%s-%d", csv.Name, i)
		Expect(c.k8s.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: operatorNamespace}, Rules: p.Rules})).To(Succeed())
		Expect(c.k8s.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: operatorNamespace},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects:   subjectsOf(p.ServiceAccountName),
		})).To(Succeed())
	}
	for i, p := range strategy.ClusterPermissions {
		name := fmt.Sprintf("%s-%d", csv.Name, i)
		Expect(c.k8s.Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: p.Rules})).To(Succeed())
		Expect(c.k8s.Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
			Subjects:   subjectsOf(p.ServiceAccountName),
		})).To(Succeed())
	}

	token, err := c.clientset.CoreV1().ServiceAccounts(operatorNamespace).CreateToken(ctx, account,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred(), "requesting a token for the service account")
	kubeconfig := clientcmdapi.NewConfig()
	kubeconfig.Clusters["test"] = &clientcmdapi.Cluster{Server: c.cp.Config.Host, CertificateAuthorityData: c.cp.Config.CAData}
	kubeconfig.AuthInfos[account] = &clientcmdapi.AuthInfo{Token: token.Status.Token}
	kubeconfig.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: account}
	kubeconfig.CurrentContext = "test"
	path := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
	Expect(clientcmd.WriteToFile(*kubeconfig, path)).To(Succeed())
	return path
}

// unreachablePrometheus is the one Prometheus URL the operator may query, a
// loopback address where nothing listens, chosen when the manager starts.
var unreachablePrometheus string

// startManager runs the manager binary with the arguments and environment
// of the CSV's deployment, overriding only the addresses a shared test
// machine needs free, the webhook certificate that OLM would mount, and the
// tenant-safety flags that a loopback test cluster needs.
func startManager(bin, kubeconfig string, csv *operatorsv1alpha1.ClusterServiceVersion) *exec.Cmd {
	var container *corev1.Container
	for i, c := range csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0].Spec.Template.Spec.Containers {
		if c.Name == "manager" {
			container = &csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0].Spec.Template.Spec.Containers[i]
		}
	}
	Expect(container).NotTo(BeNil(), "the CSV's deployment has no manager container")
	webhook := installed.cp.WebhookOptions()
	metricsAddr = freeLoopbackAddr()
	unreachablePrometheus = "http://" + freeLoopbackAddr()
	args := append(append([]string{}, container.Args...),
		"--kubeconfig="+kubeconfig,
		"--metrics-bind-address="+metricsAddr,
		"--health-probe-bind-address="+freeLoopbackAddr(),
		fmt.Sprintf("--webhook-port=%d", webhook.Port),
		"--webhook-cert-dir="+webhook.CertDir,
		// The simulated pods live on loopback; the test Prometheus is a
		// loopback address where nothing listens.
		"--source-deny-cidrs=",
		"--prometheus-allowed-urls="+unreachablePrometheus,
	)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for _, e := range container.Env {
		switch {
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+e.Value)
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			env = append(env, e.Name+"="+operatorNamespace)
		default:
			Fail(fmt.Sprintf("the deployment's env %s comes from a source this test cannot provide", e.Name))
		}
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = io.MultiWriter(logs, GinkgoWriter), io.MultiWriter(logs, GinkgoWriter)
	Expect(cmd.Start()).To(Succeed())
	return cmd
}

func freeLoopbackAddr() string {
	addr, err := testenv.FreeLoopbackAddr()
	Expect(err).NotTo(HaveOccurred())
	return addr
}
