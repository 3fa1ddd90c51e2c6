// Package e2e runs the built manager binary, as a user would, against a real
// control plane with kube-controller-manager's endpointslice controller and
// the kubelet simulator.
package e2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/readygate/readygate/controllers"
	"github.com/readygate/readygate/internal/testenv"
)

var (
	cp          *testenv.ControlPlane
	k8s         client.Client
	metricsAddr string
	manager     *exec.Cmd
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(60 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	RunSpecs(t, "end to end: the manager binary against a real control plane")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter)))
	scheme := controllers.NewScheme()

	bin := filepath.Join(GinkgoT().TempDir(), "manager")
	build := exec.Command("go", "build", "-o", bin, "../../cmd")
	build.Stdout, build.Stderr = GinkgoWriter, GinkgoWriter
	Expect(build.Run()).To(Succeed(), "building the manager")

	var err error
	cp, err = testenv.Start(testenv.Options{
		CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")},
		Controllers:       []string{"endpointslice-controller"},
		Simulator:         true,
	})
	Expect(err).NotTo(HaveOccurred())
	k8s, err = client.New(cp.Config, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	metricsAddr = freeLoopbackAddr()
	manager = exec.Command(bin, "--kubeconfig="+cp.KubeconfigPath, "--metrics-bind-address="+metricsAddr,
		"--health-probe-bind-address="+freeLoopbackAddr(), "--leader-elect=false",
		"--source-deny-cidrs=") // the simulated pods live on loopback
	manager.Env = append(os.Environ(), "ENABLE_WEBHOOKS=false") // the webhooks have their own suite
	manager.Stdout, manager.Stderr = GinkgoWriter, GinkgoWriter
	Expect(manager.Start()).To(Succeed())
})

var _ = AfterSuite(func() {
	testenv.StopProcess(manager, 10*time.Second)
	if cp != nil {
		Expect(cp.Stop()).To(Succeed())
	}
})

func freeLoopbackAddr() string {
	addr, err := testenv.FreeLoopbackAddr()
	Expect(err).NotTo(HaveOccurred())
	return addr
}
