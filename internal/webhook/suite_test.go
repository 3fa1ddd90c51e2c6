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

	"github.com/readygate/readygate/controllers"
	"github.com/readygate/readygate/internal/testenv"
	"github.com/readygate/readygate/internal/webhook"
)

var (
	cp          *testenv.ControlPlane
	k8s         client.Client
	warnings    = &testenv.WarningRecorder{}
	stopManager context.CancelFunc
	managerDone chan struct{}
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
func startManager() {
	env, err := controllers.NewCELEnv(cp.Config)
	Expect(err).NotTo(HaveOccurred())
	mgr, err := ctrl.NewManager(cp.Config, ctrl.Options{
		Scheme:                 k8s.Scheme(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		WebhookServer:          cp.WebhookServer(),
		Cache:                  controllers.CacheOptions(),
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	var ctx context.Context
	ctx, stopManager = context.WithCancel(context.Background())
	Expect(controllers.Setup(ctx, mgr, env, controllers.Options{MaxConcurrentReconciles: 4, SourceWorkers: 4})).To(Succeed())
	Expect(webhook.Setup(ctx, mgr, env, "")).To(Succeed())
	managerDone = make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(managerDone)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	Eventually(func() error { return mgr.GetWebhookServer().StartedChecker()(nil) }).Should(Succeed())
}

func stopTheManager() {
	stopManager()
	<-managerDone
}

var _ = AfterSuite(func() {
	stopTheManager()
	if cp != nil {
		Expect(cp.Stop()).To(Succeed())
	}
})
