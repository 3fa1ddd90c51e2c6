package installtest

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2" //nolint:revive,staticcheck // the suites' DSL: this package holds their specs
	. "github.com/onsi/gomega"    //nolint:revive,staticcheck // the suites' DSL: this package holds their specs
	corev1 "k8s.io/api/core/v1"

	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/readygate/readygate/internal/testenv"
)

// Installation is the operator installed into a Cluster: the namespace and
// service account it runs as, and the manager process.
type Installation struct {
	*Cluster
	Namespace, ServiceAccount string

	Manager *exec.Cmd
	// Logs are the manager's output, for assertions.
	Logs *SyncBuffer
	// MetricsAddr is where the manager serves metrics, on loopback.
	MetricsAddr string
	// MetricsTLS verifies the metrics endpoint; nil trusts any certificate
	// (one the manager signed itself).
	MetricsTLS *tls.Config
	// UnreachablePrometheus is the one Prometheus URL the operator may
	// query, a loopback address where nothing listens.
	UnreachablePrometheus string
}

// BuildManager builds the manager binary into a temporary directory.
func BuildManager() string {
	_, file, _, _ := runtime.Caller(0)
	bin := filepath.Join(GinkgoT().TempDir(), "manager")
	build := exec.Command("go", "build", "-o", bin, filepath.Join(filepath.Dir(file), "..", "..", "cmd"))
	build.Stdout, build.Stderr = GinkgoWriter, GinkgoWriter
	Expect(build.Run()).To(Succeed(), "building the manager")
	return bin
}

// StartManager runs the manager binary with the arguments and environment
// of the install's manager container, authenticated by kubeconfig. It
// overrides only the addresses a shared test machine needs free, the
// webhook certificate the install would mount (envtest's, which the webhook
// configurations trust), the tenant-safety flags a loopback test cluster
// needs, and then extraArgs.
func (i *Installation) StartManager(bin, kubeconfig string, container *corev1.Container, extraArgs ...string) {
	webhook := i.CP.WebhookOptions()
	i.MetricsAddr = FreeLoopbackAddr()
	i.UnreachablePrometheus = "http://" + FreeLoopbackAddr()
	args := append(append([]string{}, container.Args...),
		"--kubeconfig="+kubeconfig,
		"--metrics-bind-address="+i.MetricsAddr,
		"--health-probe-bind-address="+FreeLoopbackAddr(),
		fmt.Sprintf("--webhook-port=%d", webhook.Port),
		"--webhook-cert-dir="+webhook.CertDir,
		// The simulated pods live on loopback; the test Prometheus is a
		// loopback address where nothing listens.
		"--source-deny-cidrs=",
		"--prometheus-allowed-urls="+i.UnreachablePrometheus,
	)
	cmd := exec.Command(bin, append(args, extraArgs...)...)
	cmd.Env = i.env(container)
	i.Logs = &SyncBuffer{}
	cmd.Stdout, cmd.Stderr = io.MultiWriter(i.Logs, GinkgoWriter), io.MultiWriter(i.Logs, GinkgoWriter)
	Expect(cmd.Start()).To(Succeed())
	i.Manager = cmd
}

// env is the container's environment, with what the downward API would give:
// the namespace and the memory limit.
func (i *Installation) env(container *corev1.Container) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for _, e := range container.Env {
		switch {
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+e.Value)
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			env = append(env, e.Name+"="+i.Namespace)
		case e.ValueFrom.ResourceFieldRef != nil && e.ValueFrom.ResourceFieldRef.Resource == "limits.memory":
			// The downward API gives the limit in bytes, as the kubelet would.
			limit := container.Resources.Limits.Memory()
			Expect(limit.IsZero()).To(BeFalse(), "the deployment passes limits.memory as %s but sets no memory limit", e.Name)
			env = append(env, fmt.Sprintf("%s=%d", e.Name, limit.Value()))
		default:
			Fail(fmt.Sprintf("the deployment's env %s comes from a source this test cannot provide", e.Name))
		}
	}
	return env
}

// Stop stops the manager and the control plane.
func (i *Installation) Stop() {
	testenv.StopProcess(i.Manager, 10*time.Second)
	i.Cluster.Stop()
}

// ManagerContainer is the container named manager of a pod spec.
func ManagerContainer(pod *corev1.PodSpec) *corev1.Container {
	for i := range pod.Containers {
		if pod.Containers[i].Name == "manager" {
			return &pod.Containers[i]
		}
	}
	Fail("the deployment has no manager container")
	return nil
}

// FreeLoopbackAddr is a loopback address nothing listens on.
func FreeLoopbackAddr() string {
	addr, err := testenv.FreeLoopbackAddr()
	Expect(err).NotTo(HaveOccurred())
	return addr
}

// SyncBuffer keeps a process's output for assertions.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Run runs an install suite with the timeouts its specs assume, and
// controller-runtime's log in the spec's output.
func Run(t *testing.T, description string) {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter)))
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(60 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	RunSpecs(t, description)
}
