package webhook

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// RequireClientCert is the webhook server's TLS option for
// --webhook-client-ca-file: it admits only a client whose certificate the
// CA in caFile signed, the API server when its administrator gives it one
// (--admission-control-config-file). Anyone else who reaches the port could
// otherwise send made-up reviews and read what the answers tell.
func RequireClientCert(caFile string) (func(*tls.Config), error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading the webhook client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("the webhook client CA %s holds no PEM certificate", caFile)
	}
	return func(c *tls.Config) {
		c.ClientCAs = pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}, nil
}
