// Command manager runs the readygate operator.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/readygate/readygate/controllers"
	"github.com/readygate/readygate/internal/webhook"
)

func main() {
	var (
		metricsAddr, probeAddr string
		pprofAddr              string
		leaderElect            bool
		secureMetrics          bool
		qps                    float64
		burst, concurrency     int
		sourceWorkers          int
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "Address of the Prometheus metrics endpoint; 0 disables it.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the liveness and readiness probes.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "0", "Address of the pprof endpoints; 0 disables them.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader so that only one replica writes.")
	flag.BoolVar(&secureMetrics, "metrics-secure", false, "Serve metrics over HTTPS with authentication and authorization.")
	flag.Float64Var(&qps, "kube-api-qps", 500, "Client-side rate limit for API requests, per second.")
	flag.IntVar(&burst, "kube-api-burst", 1000, "Client-side burst for API requests.")
	flag.IntVar(&concurrency, "max-concurrent-reconciles", 64, "Pods evaluated at once; a reconcile mostly waits on its one write, so this is far above the core count.")
	flag.IntVar(&sourceWorkers, "source-workers", 256, "HTTP, metrics and Prometheus fetches at once; 256 polls 2,000 pods/s with endpoints answering within 100ms.")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))

	if err := run(metricsAddr, probeAddr, pprofAddr, leaderElect, secureMetrics, float32(qps), burst, controllers.Options{MaxConcurrentReconciles: concurrency, SourceWorkers: sourceWorkers}); err != nil {
		ctrl.Log.Error(err, "manager failed")
		os.Exit(1)
	}
}

func run(metricsAddr, probeAddr, pprofAddr string, leaderElect, secureMetrics bool, qps float32, burst int, opts controllers.Options) error {
	scheme := controllers.NewScheme()

	// The operator's namespace, from the downward API: leader election runs
	// there and the injector leaves it alone.
	namespace := os.Getenv("POD_NAMESPACE")
	cfg := ctrl.GetConfigOrDie()
	cfg.QPS, cfg.Burst = qps, burst

	ctx := ctrl.SetupSignalHandler()
	env, err := controllers.NewCELEnv(cfg)
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme,
		Metrics: metricsserver.Options{
			BindAddress:   metricsAddr,
			SecureServing: secureMetrics,
			TLSOpts:       []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
		},
		HealthProbeBindAddress:  probeAddr,
		PprofBindAddress:        pprofAddr,
		LeaderElection:          leaderElect,
		LeaderElectionID:        "readygate.readygate.io",
		LeaderElectionNamespace: namespace,
		Cache:                   controllers.CacheOptions(),
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	if err := controllers.Setup(ctx, mgr, env, opts); err != nil {
		return err
	}
	// make run and clusters without cert-manager run without webhooks.
	if os.Getenv("ENABLE_WEBHOOKS") != "false" {
		if err := webhook.Setup(ctx, mgr, env, namespace); err != nil {
			return fmt.Errorf("setting up the webhooks: %w", err)
		}
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	ctrl.Log.Info("starting manager")
	return mgr.Start(ctx)
}
