// Package e2e runs the built manager and kubectl-rgp binaries, as a user
// would, against a real control plane with kube-controller-manager's
// endpointslice controller and the kubelet simulator.
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
	// managerBinary is the manager built once for the suite; specs that
	// need other flags start their own process of it with startManager.
	managerBinary string
	// pluginBinary is kubectl-rgp, run by the specs as a user would.
	pluginBinary string
	// nshostBinary is the HTTP server the specs run in a network namespace.
	nshostBinary string
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

	managerBinary = buildBinary("../../cmd", "manager")
	pluginBinary = buildBinary("../../cmd/kubectl-rgp", "kubectl-rgp")
	nshostBinary = buildBinary("./nshost", "nshost")

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
	startSuiteManager()
})

// buildBinary builds the main package pkg into the suite's temporary directory.
func buildBinary(pkg, name string) string {
	out := filepath.Join(GinkgoT().TempDir(), name)
	build := exec.Command("go", "build", "-o", out, pkg)
	build.Stdout, build.Stderr = GinkgoWriter, GinkgoWriter
	Expect(build.Run()).To(Succeed(), "building "+pkg)
	return out
}

// startSuiteManager starts the manager most specs run against: plain flags,
// no webhooks (they have their own suite).
func startSuiteManager() {
	manager = startManager([]string{"ENABLE_WEBHOOKS=false"},
		"--metrics-bind-address="+metricsAddr, "--health-probe-bind-address="+freeLoopbackAddr())
}

// startManager starts the built manager against the control plane with the
// environment and flags added to those every manager here needs.
func startManager(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(managerBinary, append([]string{"--kubeconfig=" + cp.KubeconfigPath, "--leader-elect=false",
		"--source-deny-cidrs="}, // the simulated pods live on loopback
		args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = GinkgoWriter, GinkgoWriter
	Expect(cmd.Start()).To(Succeed())
	return cmd
}

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
