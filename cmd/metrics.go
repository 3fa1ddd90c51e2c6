package main

import (
	"crypto/tls"

	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// The metrics filter asks the API server who a scraper is and whether it may
// get /metrics (the readygate-metrics-reader ClusterRole).
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// metricsOptions serves the metrics endpoint on addr. Secure serves HTTPS
// (the certificate from certDir, or a self-signed one when certDir has none)
// and answers only a scraper that the API server authenticates and allows
// to get /metrics: the series name every tenant's policies and namespaces.
// Plain HTTP is for the playground and the test harnesses.
func metricsOptions(addr string, secure bool, certDir string) metricsserver.Options {
	opts := metricsserver.Options{BindAddress: addr}
	if !secure {
		return opts
	}
	opts.SecureServing = true
	opts.CertDir = certDir
	opts.FilterProvider = filters.WithAuthenticationAndAuthorization
	opts.TLSOpts = []func(*tls.Config){http1Only}
	return opts
}

// http1Only serves HTTP/1.1 alone: HTTP/2's stream reset flood
// (CVE-2023-44487) is not worth the exposure for one scrape, or one
// admission review, per connection.
func http1Only(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }
