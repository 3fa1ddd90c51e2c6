package webhook_test

import (
	"context"
	"path/filepath"
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
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/readygate/readygate/controllers"
	"github.com/readygate/readygate/internal/policy"
	"github.com/readygate/readygate/internal/testenv"
	"github.com/readygate/readygate/internal/webhook"
)

var (
	cp       *testenv.ControlPlane
	k8s      client.Client
	warnings = &testenv.WarningRecorder{}
	// stopTheManager stops the suite's manager and waits until it has.
	stopTheManager func()
)

func TestWebhooks(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	RunSpecs(t, "webhooks installed in a real kube-apiserver")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter)))
	scheme := controllers.NewScheme()
	var err error
	cp, err = testenv.Start(testenv.Options{
		CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")},
		WebhookManifests:  []string{filepath.Join("..", "..", "config", "webhook", "manifests.yaml")},
		Simulator:         true,
		WebhookClientCert: true,
	})
	Expect(err).NotTo(HaveOccurred())
	cfg := rest.CopyConfig(cp.Config)
	cfg.WarningHandler = warnings
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	startManager()
})

// startManager runs the operator with its webhooks, as cmd/ wires them, and
// returns once the webhook server is up.
// suitePolicyCap is the suite's --max-policies-per-namespace: small, so a
// spec reaches it quickly.
const suitePolicyCap = 5

func startManager() {
	var mgr ctrl.Manager
	mgr, stopTheManager = runManager(cp.Config, ctrl.Options{WebhookServer: webhookServer()}, suiteWebhooks())
	Eventually(func() error { return mgr.GetWebhookServer().StartedChecker()(nil) }).Should(Succeed())
}

// webhookServer serves at the installed webhooks' address and, as
// --webhook-client-ca-file does, admits only the API server's certificate.
func webhookServer() ctrlwebhook.Server {
	opts := cp.WebhookOptions()
	requireAPIServer, err := webhook.RequireClientCert(cp.WebhookClientCAFile)
	Expect(err).NotTo(HaveOccurred())
	opts.TLSOpts = append(opts.TLSOpts, requireAPIServer)
	return ctrlwebhook.NewServer(opts)
}

// suiteWebhooks are the webhooks' options of the suite's manager.
func suiteWebhooks() *webhook.Options {
	return &webhook.Options{MaxPoliciesPerNamespace: suitePolicyCap, ReservedConditionTypes: policy.DefaultReservedConditionTypes()}
}

// runManager starts a manager on cfg with opts (plus what every manager
// here needs), the controllers and, unless webhooks is nil, the webhooks,
// and returns it and a function that stops it and waits until it has.
func runManager(cfg *rest.Config, opts ctrl.Options, webhooks *webhook.Options) (ctrl.Manager, func()) {
	env, err := controllers.NewCELEnv(cfg)
	Expect(err).NotTo(HaveOccurred())
	opts.Scheme = k8s.Scheme()
	opts.Metrics = metricsserver.Options{BindAddress: "0"}
	opts.HealthProbeBindAddress = "0"
	opts.Cache = controllers.CacheOptions()
	opts.Controller = config.Controller{SkipNameValidation: ptr.To(true)}
	mgr, err := ctrl.NewManager(cfg, opts)
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(context.Background())
	Expect(controllers.Setup(ctx, mgr, env, controllers.Options{MaxConcurrentReconciles: 4, SourceWorkers: 4})).To(Succeed())
	if webhooks != nil {
		Expect(webhook.Setup(ctx, mgr, env, *webhooks)).To(Succeed())
	}
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	return mgr, func() {
		cancel()
		<-done
	}
}

var _ = AfterSuite(func() {
	if stopTheManager != nil { // nil when BeforeSuite failed
		stopTheManager()
	}
	if cp != nil {
		Expect(cp.Stop()).To(Succeed())
	}
})
