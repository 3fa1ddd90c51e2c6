package main

import (
	"crypto/tls"
	"path/filepath"
	"slices"
	"testing"
)

func TestWebhookKeepsHTTP2(t *testing.T) {
	opts, err := webhookOptions(9443, t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	// As the webhook server builds its config: HTTP/2 first, then our options.
	cfg := &tls.Config{NextProtos: []string{"h2", "http/1.1"}}
	for _, apply := range opts.TLSOpts {
		apply(cfg)
	}
	if !slices.Contains(cfg.NextProtos, "h2") {
		t.Fatalf("the webhook port offers %v: without HTTP/2 a stopping replica loses the reviews sent on its idle connections", cfg.NextProtos)
	}
}

func TestWebhookOptionsRefuseAMissingClientCA(t *testing.T) {
	if _, err := webhookOptions(9443, t.TempDir(), filepath.Join(t.TempDir(), "ca.crt")); err == nil {
		t.Fatal("a client CA file that does not exist was taken")
	}
}
