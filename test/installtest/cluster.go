// Package installtest installs readygate into a real control plane the way
// an install method would — its objects as it ships them, the manager run as
// its Deployment runs it, authenticated as its service account — and runs
// the core gating scenario against that installation. test/install (the OLM
// bundle) and test/chart (the Helm chart) share it.
package installtest

import (
	"context"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2" //nolint:revive,staticcheck // the suites' DSL: this package holds their specs
	. "github.com/onsi/gomega"    //nolint:revive,staticcheck // the suites' DSL: this package holds their specs
	authenticationv1 "k8s.io/api/authentication/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/controllers"
	"github.com/readygate/readygate/internal/testenv"
)

// Cluster is a control plane with admin clients.
type Cluster struct {
	CP        *testenv.ControlPlane
	K8s       client.Client
	Clientset *kubernetes.Clientset
	// Warnings are the admission warnings the admin client received.
	Warnings *testenv.WarningRecorder
}

// StartCluster starts a control plane whose admin client knows the
// operator's types, CRDs and the types addToScheme add.
func StartCluster(opts testenv.Options, addToScheme ...func(*runtime.Scheme) error) *Cluster {
	cp, err := testenv.Start(opts)
	Expect(err).NotTo(HaveOccurred())
	c := &Cluster{CP: cp, Warnings: &testenv.WarningRecorder{}}
	cfg := rest.CopyConfig(cp.Config)
	cfg.WarningHandler = c.Warnings
	scheme := controllers.NewScheme()
	for _, add := range append(addToScheme, apiextensionsv1.AddToScheme) {
		Expect(add(scheme)).To(Succeed())
	}
	c.K8s, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	c.Clientset, err = kubernetes.NewForConfig(cp.Config)
	Expect(err).NotTo(HaveOccurred())
	return c
}

// Stop stops the control plane; a nil Cluster (BeforeSuite failed) is none.
func (c *Cluster) Stop() {
	if c != nil {
		Expect(c.CP.Stop()).To(Succeed())
	}
}

// Create creates objects as an installer would, waiting for each CRD to be
// established before the objects after it.
func (c *Cluster) Create(ctx context.Context, objs ...client.Object) {
	for _, obj := range objs {
		Expect(c.K8s.Create(ctx, obj)).To(Succeed(), "creating %s %s", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName())
		if obj.GetObjectKind().GroupVersionKind().Kind == "CustomResourceDefinition" {
			c.waitEstablished(ctx, obj.GetName())
		}
	}
}

// Apply creates objects, or replaces those that exist, as OLM's catalog
// operator does with a new bundle's objects, waiting for each CRD to be
// established before the objects after it.
func (c *Cluster) Apply(ctx context.Context, objs ...client.Object) {
	for _, obj := range objs {
		err := c.K8s.Create(ctx, obj)
		if apierrors.IsAlreadyExists(err) {
			existing, ok := obj.DeepCopyObject().(client.Object)
			Expect(ok).To(BeTrue())
			Expect(c.K8s.Get(ctx, client.ObjectKeyFromObject(obj), existing)).To(Succeed())
			obj.SetResourceVersion(existing.GetResourceVersion())
			err = c.K8s.Update(ctx, obj)
		}
		Expect(err).To(Succeed(), "applying %T %s", obj, obj.GetName())
		if _, crd := obj.(*apiextensionsv1.CustomResourceDefinition); crd {
			c.waitEstablished(ctx, obj.GetName())
		}
	}
}

// CreateCRDs creates CRDs and waits until each is established.
func (c *Cluster) CreateCRDs(ctx context.Context, crds ...*apiextensionsv1.CustomResourceDefinition) {
	for _, crd := range crds {
		Expect(c.K8s.Create(ctx, crd.DeepCopy())).To(Succeed())
		c.waitEstablished(ctx, crd.Name)
	}
}

func (c *Cluster) waitEstablished(ctx context.Context, name string) {
	Eventually(func(g Gomega) {
		got := &apiextensionsv1.CustomResourceDefinition{}
		g.Expect(c.K8s.Get(ctx, client.ObjectKey{Name: name}, got)).To(Succeed())
		established := false
		for _, cond := range got.Status.Conditions {
			established = established || (cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue)
		}
		g.Expect(established).To(BeTrue(), "CRD %s is not established", name)
	}).Should(Succeed())
}

// Token is a TokenRequest token of a service account, as a pod running as
// it would have.
func (c *Cluster) Token(ctx context.Context, namespace, account string) string {
	token, err := c.Clientset.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, account,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred(), "requesting a token for the service account %s/%s", namespace, account)
	return token.Status.Token
}

// ServiceAccountKubeconfig writes a kubeconfig with a Token of a service
// account.
func (c *Cluster) ServiceAccountKubeconfig(ctx context.Context, namespace, account string) string {
	kubeconfig := clientcmdapi.NewConfig()
	kubeconfig.Clusters["test"] = &clientcmdapi.Cluster{Server: c.CP.Config.Host, CertificateAuthorityData: c.CP.Config.CAData}
	kubeconfig.AuthInfos[account] = &clientcmdapi.AuthInfo{Token: c.Token(ctx, namespace, account)}
	kubeconfig.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: account}
	kubeconfig.CurrentContext = "test"
	path := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
	Expect(clientcmd.WriteToFile(*kubeconfig, path)).To(Succeed())
	return path
}
