package webhook

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"
)

// RequireClientCert is the webhook server's TLS option for
// --webhook-client-ca-file: it admits only a client whose certificate the
// CA in caFile signed, the API server when its administrator gives it one
// (--admission-control-config-file). Anyone else who reaches the port could
// otherwise send made-up reviews and read what the answers tell. The file
// is read again when it changes, so a rotated CA (a Secret's mounted file
// is replaced) needs no restart: with the old one, every admission would
// fail its handshake, and pods would be created without their gates.
func RequireClientCert(caFile string) (func(*tls.Config), error) {
	ca := &clientCA{file: caFile}
	if _, err := ca.pool(); err != nil {
		return nil, err
	}
	return func(c *tls.Config) {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		// Per handshake, from the server's config as it stands then, which
		// holds its serving certificate.
		c.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
			pool, err := ca.pool()
			if err != nil {
				return nil, err
			}
			cfg := c.Clone()
			cfg.GetConfigForClient, cfg.ClientCAs = nil, pool
			return cfg, nil
		}
	}, nil
}

// clientCA is a CA file, parsed again when its modification time changes.
type clientCA struct {
	file string

	mu      sync.Mutex
	modTime time.Time
	certs   *x509.CertPool
}

func (ca *clientCA) pool() (*x509.CertPool, error) {
	info, err := os.Stat(ca.file)
	if err != nil {
		return nil, fmt.Errorf("reading the webhook client CA: %w", err)
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if ca.certs != nil && info.ModTime().Equal(ca.modTime) {
		return ca.certs, nil
	}
	pem, err := os.ReadFile(ca.file)
	if err != nil {
		return nil, fmt.Errorf("reading the webhook client CA: %w", err)
	}
	certs := x509.NewCertPool()
	if !certs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("the webhook client CA %s holds no PEM certificate", ca.file)
	}
	ca.certs, ca.modTime = certs, info.ModTime()
	return certs, nil
}
