package main

import (
	"strings"
	"testing"
	"time"
)

func TestLeaseValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lease lease
		flag  string // named in the error; empty when valid
	}{
		{"defaults", lease{15 * time.Second, 10 * time.Second, 2 * time.Second, 7 * time.Second}, ""},
		{"no retry period", lease{15 * time.Second, 10 * time.Second, 0, 7 * time.Second}, "--leader-elect-retry-period"},
		{"renew deadline within the retry period", lease{15 * time.Second, 2 * time.Second, 2 * time.Second, 7 * time.Second}, "--leader-elect-renew-deadline"},
		{"lease no longer than the renew deadline", lease{10 * time.Second, 10 * time.Second, 2 * time.Second, 7 * time.Second}, "--leader-elect-lease-duration"},
		{"no shutdown wait", lease{15 * time.Second, 10 * time.Second, 2 * time.Second, 0}, "--graceful-shutdown-timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.lease.validate()
			switch {
			case tc.flag == "" && err != nil:
				t.Fatalf("refused valid timings: %v", err)
			case tc.flag != "" && (err == nil || !strings.Contains(err.Error(), tc.flag)):
				t.Fatalf("want an error naming %s, got %v", tc.flag, err)
			}
		})
	}
}
