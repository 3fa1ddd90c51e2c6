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

// TestLeafRenewalKeepsTheCA: with cert-manager, the webhooks trust the CA
// that cert-manager injects from the serving certificate's Secret. Were the
// leaf self-signed, each renewal would change that CA before the pods load
// the new leaf, and every admission would fail its handshake until they do
// (the injector failing open). So a self-signed Issuer issues only a CA,
// and a CA Issuer of it issues every serving certificate.
func TestLeafRenewalKeepsTheCA(t *testing.T) {
	for source, objs := range map[string][]map[string]any{
		"config/default": kustomize(t, "default"),
		"the chart":      render(t, certModes["cert-manager"]...),
	} {
		t.Run(source, func(t *testing.T) {
			issuers := map[string]map[string]any{}
			for _, i := range ofKind(objs, "Issuer") {
				issuers[dig(i, "metadata", "name").(string)] = i
			}
			caSecrets := map[string]string{} // Secret of an isCA Certificate → its issuer
			for _, c := range ofKind(objs, "Certificate") {
				if dig(c, "spec", "isCA") == true {
					caSecrets[dig(c, "spec", "secretName").(string)] = dig(c, "spec", "issuerRef", "name").(string)
				}
			}
			leaves := 0
			for _, c := range ofKind(objs, "Certificate") {
				if dig(c, "spec", "isCA") == true {
					continue
				}
				leaves++
				name := dig(c, "metadata", "name")
				issuer, ok := issuers[dig(c, "spec", "issuerRef", "name").(string)]
				if !ok {
					t.Errorf("certificate %s names an issuer that is not installed: %v", name, dig(c, "spec", "issuerRef"))
					continue
				}
				caSecret, _ := dig(issuer, "spec", "ca", "secretName").(string)
				root, isCA := caSecrets[caSecret]
				if !isCA {
					t.Errorf("certificate %s is issued by %v, not by a CA Issuer of a CA certificate: its renewal would change the CA the webhooks trust", name, dig(issuer, "spec"))
					continue
				}
				if dig(issuers[root], "spec", "selfSigned") == nil {
					t.Errorf("the CA of certificate %s is issued by %s, which is not the self-signed Issuer", name, root)
				}
			}
			if leaves == 0 {
				t.Fatal("no serving certificate found")
			}
		})
	}
}
