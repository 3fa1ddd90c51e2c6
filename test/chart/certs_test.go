package chart

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"testing"
)

// The certificates a self-signed install generates: each Service's serves
// its DNS name and chains to the CA the webhook configurations trust.
func TestSelfSignedCertificates(t *testing.T) {
	chart := render(t, certModes["self-signed"]...)
	ca := caBundle(named(t, chart, "MutatingWebhookConfiguration", "readygate-mutating-webhook-configuration"))
	if other := caBundle(named(t, chart, "ValidatingWebhookConfiguration", "readygate-validating-webhook-configuration")); other != ca {
		t.Error("the two webhook configurations trust different CAs")
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(decode(t, ca)) {
		t.Fatalf("the caBundle holds no PEM certificate: %q", ca)
	}
	for secret, service := range map[string]string{
		"readygate-webhook-server-cert": "readygate-webhook-service",
		"readygate-metrics-server-cert": "readygate-controller-manager-metrics-service",
	} {
		data := named(t, chart, "Secret", secret)["data"].(map[string]any)
		if data["ca.crt"] != ca {
			t.Errorf("%s: ca.crt is not the webhooks' CA", secret)
		}
		for _, name := range []string{service + "." + namespace + ".svc", service + "." + namespace + ".svc.cluster.local"} {
			if _, err := leaf(t, data["tls.crt"].(string)).Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
				t.Errorf("%s does not serve %s: %v", secret, name, err)
			}
		}
	}
	again := render(t, certModes["self-signed"]...)
	if caBundle(named(t, again, "MutatingWebhookConfiguration", "readygate-mutating-webhook-configuration")) == ca {
		t.Error("two renders without a cluster generated the same CA: the certificates are not generated")
	}
}

func decode(t tb, b64 string) []byte {
	t.Helper()
	out, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return out
}

func leaf(t *testing.T, b64 string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(decode(t, b64))
	if block == nil {
		t.Fatal("tls.crt holds no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
