package main

import (
	"crypto/tls"

	"sigs.k8s.io/controller-runtime/pkg/webhook"

	rgwebhook "github.com/readygate/readygate/internal/webhook"
)

// webhookOptions serve the admission webhooks, requiring the API server's
// client certificate when clientCAFile names its CA. Unlike the metrics
// port, they keep HTTP/2: the API server reuses its connections, and a
// stopping replica tells an HTTP/2 client to go elsewhere (GOAWAY), which
// it does, where an HTTP/1.1 one loses the admission review it had just
// sent on an idle connection the replica closed (a POST is not retried).
// Go's HTTP/2 server bounds the stream-reset flood of CVE-2023-44487.
func webhookOptions(port int, certDir, clientCAFile string) (webhook.Options, error) {
	opts := webhook.Options{Port: port, CertDir: certDir}
	if clientCAFile == "" {
		return opts, nil
	}
	requireAPIServer, err := rgwebhook.RequireClientCert(clientCAFile)
	if err != nil {
		return opts, err
	}
	opts.TLSOpts = []func(*tls.Config){requireAPIServer}
	return opts, nil
}
