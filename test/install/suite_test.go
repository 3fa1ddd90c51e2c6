// Package install installs the OLM bundle the way OLM would — its CRD, and
// the service account, roles and bindings exactly as the CSV lists them —
// into a real control plane, runs the manager binary as the CSV's deployment
// runs it, authenticated with a token of that service account, and runs the
// core gating scenario through the webhooks the CSV describes.
package install_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/operator-framework/api/pkg/manifests"
	operatorsv1 "github.com/operator-framework/api/pkg/operators/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/readygate/readygate/controllers"
	"github.com/readygate/readygate/internal/testenv"
)

// operatorNamespace is where OLM would install the operator for an
// AllNamespaces OperatorGroup.
const operatorNamespace = "operators"

var (
	// installed is the control plane the manager runs against as the CSV's
	// service account; k8s is its admin client.
	installed *cluster
	k8s       client.Client
	bundle    *manifests.Bundle
	manager   *exec.Cmd
	// metricsAddr is where the manager serves metrics, as the CSV's
	// arguments say (HTTPS, authenticated), on loopback.
	metricsAddr string
	logs        = &syncBuffer{}
	// warnings are the admission warnings of the installed cluster's client.
	warnings = &testenv.WarningRecorder{}
)

// cluster is a control plane with admin clients.
type cluster struct {
	cp        *testenv.ControlPlane
	k8s       client.Client
	clientset *kubernetes.Clientset
}

func startCluster(opts testenv.Options) *cluster {
	cp, err := testenv.Start(opts)
	Expect(err).NotTo(HaveOccurred())
	cfg := rest.CopyConfig(cp.Config)
	cfg.WarningHandler = warnings
	scheme := controllers.NewScheme()
	Expect(apiextensionsv1.AddToScheme(scheme)).To(Succeed())
	Expect(operatorsv1.AddToScheme(scheme)).To(Succeed())
	c := &cluster{cp: cp}
	c.k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	c.clientset, err = kubernetes.NewForConfig(cp.Config)
	Expect(err).NotTo(HaveOccurred())
	return c
}

func (c *cluster) stop() {
	if c != nil {
		Expect(c.cp.Stop()).To(Succeed())
	}
}

func TestInstall(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(60 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	RunSpecs(t, "the OLM bundle installs with exactly the CSV's permissions")
}

// syncBuffer keeps the manager's log for assertions.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var _ = BeforeSuite(func(ctx SpecContext) {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter)))
	var err error
	bundle, err = manifests.GetBundleFromDir(filepath.Join("..", "..", "bundle"))
	Expect(err).NotTo(HaveOccurred(), "loading bundle/ (run make bundle)")

	bin := filepath.Join(GinkgoT().TempDir(), "manager")
	build := exec.Command("go", "build", "-o", bin, "../../cmd")
	build.Stdout, build.Stderr = GinkgoWriter, GinkgoWriter
	Expect(build.Run()).To(Succeed(), "building the manager")

	webhooks := filepath.Join(GinkgoT().TempDir(), "webhooks.yaml")
	Expect(os.WriteFile(webhooks, webhookConfigurations(bundle.CSV), 0o600)).To(Succeed())
	installed = startCluster(testenv.Options{Simulator: true, WebhookManifests: []string{webhooks}})
	k8s = installed.k8s
	installBundleObjects(ctx, installed, bundle)
	kubeconfig := installServiceAccount(ctx, installed, bundle.CSV)
	manager = startManager(bin, kubeconfig, bundle.CSV)
}, NodeTimeout(5*time.Minute))

var _ = AfterSuite(func() {
	testenv.StopProcess(manager, 10*time.Second)
	installed.stop()
})
