package webhook

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/readygate/readygate/internal/testenv"
)

// The webhook server answers only a client certificate of the CA file, and
// follows the file when it is replaced: with a stale CA after a rotation,
// every admission would fail its handshake.
func TestRequireClientCertFollowsTheCAFile(t *testing.T) {
	dir := t.TempDir()
	old, err := testenv.NewClientCert(dir, "old")
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := testenv.NewClientCert(dir, "rotated")
	if err != nil {
		t.Fatal(err)
	}
	caFile := dir + "/ca.crt"
	install := func(from string, at time.Time) {
		pem, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(caFile, pem, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(caFile, at, at); err != nil {
			t.Fatal(err)
		}
	}
	install(old.CAFile, time.Now().Add(-time.Hour))
	require, err := RequireClientCert(caFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.StartTLS()
	defer srv.Close()
	// As controller-runtime does: the option on the config the listener
	// serves with, which holds the serving certificate.
	require(srv.TLS)
	get := func(c *testenv.ClientCert) error {
		tlsConfig := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the test server's own certificate
		if c != nil {
			cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
			if err != nil {
				t.Fatal(err)
			}
			tlsConfig.Certificates = []tls.Certificate{cert}
		}
		resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig}}).Get(srv.URL)
		if err == nil {
			_ = resp.Body.Close()
		}
		return err
	}
	if err := get(&old); err != nil {
		t.Fatalf("the CA's own client was refused: %v", err)
	}
	if err := get(nil); err == nil {
		t.Fatal("a client without a certificate was answered")
	}
	if err := get(&rotated); err == nil {
		t.Fatal("a client of another CA was answered")
	}
	install(rotated.CAFile, time.Now())
	if err := get(&rotated); err != nil {
		t.Fatalf("after the CA file was replaced, its client was refused: %v", err)
	}
	if err := get(&old); err == nil {
		t.Fatal("after the CA file was replaced, the old CA's client was still answered")
	}
}

func TestRequireClientCertRefusesAFileWithoutACertificate(t *testing.T) {
	file := t.TempDir() + "/ca.crt"
	if err := os.WriteFile(file, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := RequireClientCert(file); err == nil {
		t.Fatal("a CA file without a certificate was taken")
	}
	if _, err := RequireClientCert(file + ".missing"); err == nil {
		t.Fatal("a missing CA file was taken")
	}
}
