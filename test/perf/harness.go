package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/controllers"
	"github.com/readygate/readygate/internal/testenv"
)

// Client settings shared by the operator and the baseline, so that the
// ratio compares the work done, not the rate limits.
const (
	clientQPS   = 500
	clientBurst = 1000
)

// cluster is one fresh control plane with the simulator, the operator as its
// own process, and an informer that timestamps what happens to pods.
type cluster struct {
	cp      *testenv.ControlPlane
	cfg     *rest.Config
	cs      *kubernetes.Clientset
	k8s     client.Client
	tracker *tracker
	stopInf context.CancelFunc
	pods    int // created so far, which bounds the waits

	manager     *exec.Cmd
	managerDone chan struct{} // closed when the operator exits
	metricsAddr string
}

func newCluster(ctx context.Context, root string) (*cluster, error) {
	cp, err := testenv.Start(testenv.Options{CRDDirectoryPaths: []string{filepath.Join(root, "config", "crd", "bases")}, Simulator: true})
	if err != nil {
		return nil, err
	}
	c := &cluster{cp: cp, cfg: rest.CopyConfig(cp.Config)}
	c.cfg.QPS, c.cfg.Burst = 5000, 10000 // the harness itself must not be the bottleneck
	scheme := controllers.NewScheme()
	if c.cs, err = kubernetes.NewForConfig(c.cfg); err != nil {
		return nil, err
	}
	if c.k8s, err = client.New(c.cfg, client.Options{Scheme: scheme}); err != nil {
		return nil, err
	}
	c.tracker = newTracker()
	infCtx, cancel := context.WithCancel(ctx)
	c.stopInf = cancel
	factory := informers.NewSharedInformerFactoryWithOptions(c.cs, 0, informers.WithNamespace(benchNamespace))
	inf := factory.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.tracker.observe(o.(*corev1.Pod)) },
		UpdateFunc: func(_, o any) { c.tracker.observe(o.(*corev1.Pod)) },
	}); err != nil {
		return nil, err
	}
	factory.Start(infCtx.Done())
	factory.WaitForCacheSync(infCtx.Done())
	_, err = c.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNamespace}}, metav1.CreateOptions{})
	return c, err
}

// startOperator runs the manager binary against the cluster with its
// defaults, but for the deny list: the simulated pods live on loopback.
func (c *cluster) startOperator(manager string) error {
	addr, err := testenv.FreeLoopbackAddr()
	if err != nil {
		return err
	}
	c.metricsAddr = addr
	args := append([]string{"--kubeconfig=" + c.cp.KubeconfigPath, "--metrics-bind-address=" + addr,
		"--health-probe-bind-address=0", "--leader-elect=false", "--zap-log-level=error",
		"--source-deny-cidrs="}, strings.Fields(os.Getenv("BENCH_OPERATOR_ARGS"))...)
	c.manager = exec.Command(manager, args...)
	// No cert-manager here: the harness measures the controllers. The
	// memory limit is the default deployment's, as its downward API passes it.
	c.manager.Env = append(os.Environ(), "ENABLE_WEBHOOKS=false", fmt.Sprintf("MEMORY_LIMIT=%d", memoryLimit))
	// BENCH_OPERATOR_ENV sets variables for the operator alone, such as
	// GOGC, which in the harness's own environment would tune the
	// apiserver and etcd too.
	c.manager.Env = append(c.manager.Env, strings.Fields(os.Getenv("BENCH_OPERATOR_ENV"))...)
	if os.Getenv("BENCH_OPERATOR_LOGS") == "1" {
		c.manager.Stdout, c.manager.Stderr = os.Stderr, os.Stderr
	}
	if err := c.manager.Start(); err != nil {
		return err
	}
	c.managerDone = make(chan struct{})
	go func() {
		_ = c.manager.Wait()
		close(c.managerDone)
	}()
	// Ready once it serves metrics.
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if _, err := c.operatorMetric("go_goroutines"); err == nil {
			return nil
		}
		select {
		case <-c.managerDone:
			return fmt.Errorf("the operator exited at start (BENCH_OPERATOR_LOGS=1 shows why)")
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("the operator did not come up")
}

func (c *cluster) stop() {
	if c.managerDone != nil {
		_ = c.manager.Process.Signal(os.Interrupt)
		<-c.managerDone
	}
	c.stopInf()
	_ = c.cp.Stop()
}

// operatorMetric sums a metric's samples on the operator's endpoint.
func (c *cluster) operatorMetric(name string, labelFilters ...string) (float64, error) {
	resp, err := http.Get("http://" + c.metricsAddr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	return sumMetric(resp.Body, name, labelFilters...)
}

// apiserverMetric sums a metric's samples on the apiserver's own endpoint.
func (c *cluster) apiserverMetric(ctx context.Context, name string, labelFilters ...string) (float64, error) {
	body, err := c.cs.CoreV1().RESTClient().Get().AbsPath("/metrics").Stream(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { _ = body.Close() }()
	return sumMetric(body, name, labelFilters...)
}

// operatorStatus is a memory field of the operator process's
// /proc/<pid>/status in bytes: VmRSS (resident now) or VmHWM (its peak).
func (c *cluster) operatorStatus(field string) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.manager.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, field) {
			f := strings.Fields(line)
			kb, err := strconv.ParseFloat(f[1], 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in the operator's status", field)
}

// recountMean is the mean time of the operator's policy recounts so far.
func (c *cluster) recountMean() (time.Duration, error) {
	sum, err := c.operatorMetric("readygate_policy_recount_duration_seconds_sum")
	if err != nil {
		return 0, err
	}
	count, err := c.operatorMetric("readygate_policy_recount_duration_seconds_count")
	if err != nil || count == 0 {
		return 0, err
	}
	return time.Duration(sum / count * float64(time.Second)), nil
}

// loadAverage is the machine's load over 1, 5 and 15 minutes: other work
// on the same cores disturbs every figure.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(data))[:3], " ")
}

// deployedMemoryLimit is limits.memory of config/manager/manager.yaml.
const deployedMemoryLimit = 256 << 20

// memoryLimit is the container limit the operator is told of: the
// deployment's, unless --memory-limit-mib raises it as docs/scaling.md
// tells the operators of larger clusters to.
var memoryLimit = deployedMemoryLimit

const benchNamespace = "bench"

// benchLabels select the bench pods; ungatedLabels, pods no policy selects.
var (
	benchLabels   = map[string]string{"app": "bench"}
	ungatedLabels = map[string]string{"app": "other"}
)

// createUngatedPods creates n pods without readiness gates that no policy
// selects, as most of a cluster's pods are.
func (c *cluster) createUngatedPods(ctx context.Context, n int) error {
	return c.createPods(ctx, n, nil, func(i int, p *corev1.Pod) {
		p.Name, p.Labels = fmt.Sprintf("other-%05d", i), ungatedLabels
	})
}

// createPods creates n pods with the given gates, in parallel.
func (c *cluster) createPods(ctx context.Context, n int, gates []string, mutate func(i int, p *corev1.Pod)) error {
	c.pods += n
	return parallel(n, 32, func(i int) error {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%05d", i), Namespace: benchNamespace, Labels: benchLabels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
		}
		for _, g := range gates {
			p.Spec.ReadinessGates = append(p.Spec.ReadinessGates, corev1.PodReadinessGate{ConditionType: corev1.PodConditionType(g)})
		}
		if mutate != nil {
			mutate(i, p)
		}
		_, err := c.cs.CoreV1().Pods(benchNamespace).Create(ctx, p, metav1.CreateOptions{})
		return err
	})
}

// parallel runs f(0..n-1) on workers goroutines and returns the first error.
func parallel(n, workers int, f func(i int) error) error {
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		next  = make(chan int)
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}
