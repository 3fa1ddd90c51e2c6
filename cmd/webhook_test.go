package main

import (
	"crypto/tls"
	"path/filepath"
	"slices"
	"testing"
)

func TestWebhookServesHTTP1Only(t *testing.T) {
	opts, err := webhookOptions(9443, t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	// As the webhook server builds its config: HTTP/2 first, then our options.
	cfg := &tls.Config{NextProtos: []string{"h2", "http/1.1"}}
	for _, apply := range opts.TLSOpts {
		apply(cfg)
	}
	if !slices.Equal(cfg.NextProtos, []string{"http/1.1"}) {
		t.Fatalf("the webhook port offers %v, want HTTP/1.1 alone", cfg.NextProtos)
	}
}

func TestWebhookOptionsRefuseAMissingClientCA(t *testing.T) {
	if _, err := webhookOptions(9443, t.TempDir(), filepath.Join(t.TempDir(), "ca.crt")); err == nil {
		t.Fatal("a client CA file that does not exist was taken")
	}
}
