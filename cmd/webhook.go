package main

import (
	"crypto/tls"

	"sigs.k8s.io/controller-runtime/pkg/webhook"

	rgwebhook "github.com/readygate/readygate/internal/webhook"
)

// webhookOptions serves the admission webhooks over HTTP/1.1 alone, like
// the metrics: the API server calls a webhook Service over HTTP/1.1 anyway,
// and the port answers any TLS client unless clientCAFile names the CA of
// the API server's client certificate, which it then requires.
func webhookOptions(port int, certDir, clientCAFile string) (webhook.Options, error) {
	opts := webhook.Options{Port: port, CertDir: certDir, TLSOpts: []func(*tls.Config){http1Only}}
	if clientCAFile == "" {
		return opts, nil
	}
	requireAPIServer, err := rgwebhook.RequireClientCert(clientCAFile)
	if err != nil {
		return opts, err
	}
	opts.TLSOpts = append(opts.TLSOpts, requireAPIServer)
	return opts, nil
}
