package sources

import (
	"strings"
	"testing"
)

func TestURLAllowlist(t *testing.T) {
	var a URLAllowlist
	if err := a.Set("http://prom.monitoring:9090, https://Thanos.example.com/tenant-a/"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		address string
		wantErr string // empty: allowed
	}{
		{address: "http://prom.monitoring:9090"},
		{address: "http://prom.monitoring:9090/"},
		{address: "http://PROM.monitoring:9090/api"},
		{address: "https://thanos.example.com/tenant-a"},
		{address: "https://thanos.example.com:443/tenant-a/sub"},
		{address: "http://prom.monitoring:9090.evil.com", wantErr: "is not a URL"},
		{address: "http://prom.monitoring:9090@evil", wantErr: "carries credentials"},
		{address: "http://user:pw@prom.monitoring:9090", wantErr: "carries credentials"},
		{address: "http://prom.monitoring.evil.com:9090", wantErr: "is not under any URL"},
		{address: "http://prom.monitoring:9091", wantErr: "is not under any URL"},
		{address: "http://prom.monitoring", wantErr: "is not under any URL"},
		{address: "https://prom.monitoring:9090", wantErr: "is not under any URL"},
		{address: "https://thanos.example.com/tenant-ab", wantErr: "is not under any URL"},
		{address: "https://thanos.example.com/", wantErr: "is not under any URL"},
		{address: "https://thanos.example.com/tenant-a/../tenant-b", wantErr: `has a ".." path segment`},
		{address: "https://thanos.example.com/tenant-a/%2e%2e/tenant-b", wantErr: `has a ".." path segment`},
		{address: "https://thanos.example.com:8443/tenant-a", wantErr: "is not under any URL"},
		// Gateways in front of Prometheus read these as ".." or "/", and the
		// check would see one segment where they see two.
		{address: "https://thanos.example.com/tenant-a/..;/tenant-b", wantErr: `has ";" in its path`},
		{address: "https://thanos.example.com/tenant-a/%2e%2e;/tenant-b", wantErr: `has ";" in its path`},
		{address: "https://thanos.example.com/tenant-a%2F..%2Ftenant-b", wantErr: "has an encoded slash in its path"},
		{address: "https://thanos.example.com/tenant-a/..%5Ctenant-b", wantErr: `has "\\" in its path`},
		{address: `https://thanos.example.com/tenant-a/..\tenant-b`, wantErr: `has "\\" in its path`},
		// Double-encoded, control and non-ASCII bytes: for gateways that decode twice or leniently.
		{address: "https://thanos.example.com/tenant-a/%252e%252e/tenant-b", wantErr: `has "%" in its path`},
		{address: "https://thanos.example.com/tenant-a/..%00/tenant-b", wantErr: `has "\x00" in its path`},
		{address: "https://thanos.example.com/tenant-a/%c0%ae%c0%ae/tenant-b", wantErr: `has "\xc0" in its path`},
		{address: "https://thanos.example.com/tenant-a/api%20v1", wantErr: `has " " in its path`},
		{address: "https://thanos.example.com/m%C3%BCnchen", wantErr: `has "ü" in its path`},
		{address: "http://prom.monitoring:9090/?x=1", wantErr: "has a query or fragment"},
		{address: "http://prom.monitoring:9090#frag", wantErr: "has a query or fragment"},
		{address: "file:///etc/passwd", wantErr: "the scheme must be http or https"},
		{address: "http:prom.monitoring:9090", wantErr: "has no host"},
		{address: "//prom.monitoring:9090", wantErr: "the scheme must be http or https"},
		{address: "http://169.254.169.254/latest", wantErr: "is not under any URL"},
	}
	for _, tc := range cases {
		err := a.Allows(tc.address)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.address, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err = %v, want %q", tc.address, err, tc.wantErr)
		}
	}
}

func TestEmptyURLAllowlistRefusesEverything(t *testing.T) {
	var a URLAllowlist
	if err := a.Set(""); err != nil {
		t.Fatal(err)
	}
	err := a.Allows("http://prom.monitoring:9090")
	if err == nil || !strings.Contains(err.Error(), "the prometheus source is off: readygate runs without --prometheus-allowed-urls") {
		t.Fatalf("err = %v", err)
	}
}

func TestURLAllowlistRejectsBadEntries(t *testing.T) {
	for v, want := range map[string]string{
		"prom.monitoring:9090": "the scheme must be http or https",
		"http://u:p@prom:9090": "carries credentials",
		"ftp://prom":           "the scheme must be http or https",
		"http://prom:9090?q=1": "has a query or fragment",
	} {
		var a URLAllowlist
		if err := a.Set(v); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", v, err, want)
		}
	}
}

func TestServerOf(t *testing.T) {
	for address, want := range map[string]string{
		"http://Prom.monitoring:9090/":         "http://prom.monitoring:9090",
		"http://prom.monitoring:9090/tenant-a": "http://prom.monitoring:9090",
		"https://thanos.example.com/x/y":       "https://thanos.example.com:443",
		"http://[::1]/api":                     "http://[::1]:80",
	} {
		if got := ServerOf(address); got != want {
			t.Errorf("ServerOf(%q) = %q, want %q", address, got, want)
		}
	}
}
