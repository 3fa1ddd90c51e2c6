package controllers_test

import (
	"context"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/readygate/readygate/controllers"
	"github.com/readygate/readygate/internal/policy"
	"github.com/readygate/readygate/internal/sources"
	"github.com/readygate/readygate/internal/testenv"
)

var (
	cp            *testenv.ControlPlane
	k8s           client.Client
	scheme        = controllers.NewScheme()
	stopManager   context.CancelFunc
	managerExited chan struct{}
	// podBodies is the running manager's store of gated pods' spec and status.
	// prometheus is the suite's one allowed Prometheus URL; specs route
	// their servers through it.
	prometheus *promFront
)

// deadPrometheus is an allowed address where nothing listens.
const deadPrometheus = "http://127.0.0.1:1"

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	RunSpecs(t, "controllers against a real kube-apiserver")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))

	var err error
	cp, err = testenv.Start(testenv.Options{CRDDirectoryPaths: []string{filepath.Join("..", "config", "crd", "bases")}, Simulator: true})
	Expect(err).NotTo(HaveOccurred())
	k8s, err = client.New(cp.Config, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	prometheus = startPromFront()
	startManager()
})

var _ = AfterSuite(func() {
	if stopManager != nil {
		stopManager()
		<-managerExited
	}
	if cp != nil {
		Expect(cp.Stop()).To(Succeed())
	}
	if prometheus != nil {
		prometheus.Close()
	}
})

// startManager runs the operator as cmd/ wires it, against the test control plane.
func startManager() {
	env, err := controllers.NewCELEnv(cp.Config)
	Expect(err).NotTo(HaveOccurred())
	cfg := rest.CopyConfig(cp.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countEventLists{rt} })
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  controllers.CacheOptions(),
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	var ctx context.Context
	ctx, stopManager = context.WithCancel(context.Background())
	Expect(controllers.Setup(ctx, mgr, env, controllers.Options{MaxConcurrentReconciles: 4, SourceWorkers: 16, ReleaseBatch: 2, SourceRules: sourceRules(),
		ReservedConditionTypes: policy.DefaultReservedConditionTypes(), EvaluationCostPerNamespace: controllers.DefaultEvaluationCostPerNamespace})).To(Succeed())
	managerExited = make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(managerExited)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
}

// managerEventLists counts the lists of events.k8s.io Events the managers
// asked the API server for.
var managerEventLists atomic.Int64

// countEventLists counts a manager's lists of events.k8s.io Events.
type countEventLists struct{ next http.RoundTripper }

func (c countEventLists) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet && req.URL.Path == "/apis/events.k8s.io/v1/events" && req.URL.Query().Get("watch") == "" {
		managerEventLists.Add(1)
	}
	return c.next.RoundTrip(req)
}

// denyCIDRs is the suite's --source-deny-cidrs: empty, since the simulated
// pods live on loopback; a spec that changes it restarts the manager.
var denyCIDRs = ""

// sourceRules are the tenant-safety flags the suite runs with: the deny
// list of denyCIDRs (the deny list and hostNetwork permission are
// unit-tested in internal/sources), and Prometheus only through the
// suite's front and at the dead address.
func sourceRules() sources.Rules {
	rules := sources.Rules{}
	Expect(rules.DenyCIDRs.Set(denyCIDRs)).To(Succeed())
	Expect(rules.PrometheusURLs.Set(prometheus.URL + "," + deadPrometheus)).To(Succeed())
	return rules
}

// restartManager stops the operator and starts a fresh one with no memory.
func restartManager() {
	stopManager()
	<-managerExited
	startManager()
}

// restartDenying restarts the operator with --source-deny-cidrs=cidrs.
func restartDenying(cidrs string) {
	denyCIDRs = cidrs
	restartManager()
}
