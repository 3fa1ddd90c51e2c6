// Command manager runs the readygate operator.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/readygate/readygate/controllers"
	"github.com/readygate/readygate/internal/policy"
	"github.com/readygate/readygate/internal/sources"
	rgwebhook "github.com/readygate/readygate/internal/webhook"
)

// settings are the manager's flags.
type settings struct {
	metricsAddr, probeAddr, pprofAddr string
	leaderElect, secureMetrics        bool
	qps                               float64
	burst                             int
	webhookPort, maxPolicies          int
	webhookCertDir, metricsCertDir    string
	webhookClientCAFile               string
	cacheSyncTimeout                  time.Duration
	lease                             lease
	controllers                       controllers.Options
}

func main() {
	var s settings
	flag.StringVar(&s.metricsAddr, "metrics-bind-address", ":8080", "Address of the Prometheus metrics endpoint; 0 disables it.")
	flag.StringVar(&s.probeAddr, "health-probe-bind-address", ":8081", "Address of the liveness and readiness probes.")
	flag.StringVar(&s.pprofAddr, "pprof-bind-address", "0", "Address of the pprof endpoints; 0 disables them.")
	flag.BoolVar(&s.leaderElect, "leader-elect", false, "Elect a leader so that only one replica writes; every replica serves the webhooks.")
	s.lease.bindFlags(flag.CommandLine)
	flag.BoolVar(&s.secureMetrics, "metrics-secure", false, "Serve metrics over HTTPS to scrapers the API server authenticates and allows to get /metrics (ClusterRole readygate-metrics-reader); config/ and the bundle set it.")
	flag.StringVar(&s.metricsCertDir, "metrics-cert-dir", "", "Directory with the metrics endpoint's tls.crt and tls.key; without them --metrics-secure serves a self-signed certificate.")
	flag.Float64Var(&s.qps, "kube-api-qps", 500, "Client-side rate limit for API requests, per second.")
	flag.IntVar(&s.burst, "kube-api-burst", 1000, "Client-side burst for API requests.")
	flag.IntVar(&s.webhookPort, "webhook-port", webhook.DefaultPort, "Port of the admission webhooks.")
	flag.IntVar(&s.maxPolicies, "max-policies-per-namespace", rgwebhook.DefaultMaxPoliciesPerNamespace, "Most ReadinessGatePolicies the validating webhook admits in one namespace (0: no cap); each costs the operator about 80 KiB of compiled CEL.")
	flag.StringVar(&s.webhookClientCAFile, "webhook-client-ca-file", "",
		"CA file of the client certificate the API server presents to webhooks (its --admission-control-config-file); when set, the webhooks answer no other caller. Empty: any TLS client.")
	flag.StringVar(&s.webhookCertDir, "webhook-cert-dir", "", "Directory with the webhooks' tls.crt and tls.key (default: where cert-manager's and OLM's mounts put them, /tmp/k8s-webhook-server/serving-certs).")
	flag.DurationVar(&s.cacheSyncTimeout, "cache-sync-timeout", 2*time.Minute, "Exit when the informers have not synced by then and the API server refused a list (RBAC); lists that are only slow are waited for, not ready meanwhile.")
	flag.IntVar(&s.controllers.MaxConcurrentReconciles, "max-concurrent-reconciles", 64, "Pods evaluated at once; a reconcile mostly waits on its one write, so this is far above the core count.")
	flag.IntVar(&s.controllers.EvaluationCostPerNamespace, "evaluation-cost-per-namespace", controllers.DefaultEvaluationCostPerNamespace,
		"CEL cost units one namespace's evaluations may spend a second (0: no limit); a namespace over it has its pods' evaluations put off, so that one tenant's costly expressions cannot hold every core.")
	flag.IntVar(&s.controllers.SourceWorkers, "source-workers", 256, "HTTP, metrics and Prometheus fetches at once, at most max(4, workers/8) for one namespace; each also reserves its body cap from 32 MiB of bytes in flight.")
	s.controllers.SourceRules.DenyCIDRs = sources.DefaultDenyCIDRs()
	flag.Var(&s.controllers.SourceRules.DenyCIDRs, "source-deny-cidrs",
		"Comma-separated CIDRs the http and metrics sources never dial, whatever a pod's status says; an empty value denies nothing (loopback test clusters).")
	flag.BoolVar(&s.controllers.SourceRules.AllowHostNetwork, "allow-host-network-sources", false,
		"Let the http and metrics sources dial hostNetwork pods, whose IP is their node's: any port of the node becomes reachable to policy authors.")
	flag.Var(&s.controllers.SourceRules.PrometheusURLs, "prometheus-allowed-urls",
		"Comma-separated URL prefixes (scheme, host, port, path) the prometheus source may query; empty refuses the source (Accepted=False, SourceNotAllowed).")
	s.controllers.ReservedConditionTypes = policy.DefaultReservedConditionTypes()
	flag.Var(&s.controllers.ReservedConditionTypes, "reserved-condition-types",
		"Comma-separated pod condition types, or domains ending in /, that other controllers own and no policy may decide; an empty value reserves none.")
	flag.Var(&s.controllers.SourceRules.PrometheusNamespaceHeader, "prometheus-namespace-header",
		"HTTP header in which the prometheus source names the policy's namespace, for a proxy in front of Prometheus (prom-label-proxy -header-name) to confine its queries; empty sends none.")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))

	if err := setMemoryLimit(); err != nil {
		ctrl.Log.Error(err, "manager failed")
		os.Exit(1)
	}
	setGCPercent()
	runtime.MemProfileRate = allocationProfileRate(s.pprofAddr)
	if err := run(s); err != nil {
		ctrl.Log.Error(err, "manager failed")
		os.Exit(1)
	}
}

func run(s settings) error {
	// The operator's namespace, from the downward API: leader election runs
	// there and the injector leaves it alone.
	namespace := os.Getenv("POD_NAMESPACE")
	if err := s.lease.validate(); err != nil {
		return err
	}
	cfg := ctrl.GetConfigOrDie()
	cfg.QPS, cfg.Burst = float32(s.qps), s.burst

	ctx := ctrl.SetupSignalHandler()
	env, err := controllers.NewCELEnv(cfg)
	if err != nil {
		return err
	}
	webhookOpts, err := webhookOptions(s.webhookPort, s.webhookCertDir, s.webhookClientCAFile)
	if err != nil {
		return err
	}
	caches := &cacheSync{}
	opts := ctrl.Options{
		Scheme:                  controllers.NewScheme(),
		Metrics:                 metricsOptions(s.metricsAddr, s.secureMetrics, s.metricsCertDir),
		WebhookServer:           webhook.NewServer(webhookOpts),
		HealthProbeBindAddress:  s.probeAddr,
		PprofBindAddress:        s.pprofAddr,
		LeaderElection:          s.leaderElect,
		LeaderElectionNamespace: namespace,
		Cache:                   controllers.CacheOptions(),
	}
	opts.Cache.DefaultWatchErrorHandler = caches.watchErrors
	s.lease.apply(&opts)
	mgr, err := ctrl.NewManager(cfg, opts)
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	if err := controllers.Setup(ctx, mgr, env, s.controllers); err != nil {
		return err
	}
	go caches.watch(ctx, mgr.GetCache(), s.cacheSyncTimeout)
	ready := caches.ready
	// make run and clusters without cert-manager run without webhooks.
	if os.Getenv("ENABLE_WEBHOOKS") != "false" {
		if err := rgwebhook.Setup(ctx, mgr, env, rgwebhook.Options{
			OperatorNamespace: namespace, MaxPoliciesPerNamespace: s.maxPolicies, ReservedConditionTypes: s.controllers.ReservedConditionTypes,
		}); err != nil {
			return fmt.Errorf("setting up the webhooks: %w", err)
		}
		// Not ready, so no traffic from the webhook Service, until it serves.
		serving := mgr.GetWebhookServer().StartedChecker()
		ready = func(req *http.Request) error { return errors.Join(caches.ready(req), serving(req)) }
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", ready); err != nil {
		return err
	}
	ctrl.Log.Info("starting manager")
	return mgr.Start(ctx)
}
