package main

import (
	"runtime"
	"testing"
)

func TestGoMemoryLimit(t *testing.T) {
	cases := []struct {
		name, container, goMemLimit string
		want                        int64
		ok, fails                   bool
	}{
		{name: "the downward API's bytes", container: "268435456", want: 241591910, ok: true},
		{name: "a quantity with a unit", container: "1Gi", want: 966367641, ok: true},
		{name: "GOMEMLIMIT set explicitly wins", container: "268435456", goMemLimit: "100MiB"},
		{name: "no container limit", container: ""},
		{name: "not a quantity", container: "lots", fails: true},
		{name: "zero", container: "0", fails: true},
		{name: "negative", container: "-1Mi", fails: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := goMemoryLimit(tc.container, tc.goMemLimit)
			if (err != nil) != tc.fails || ok != tc.ok || got != tc.want {
				t.Fatalf("goMemoryLimit(%q, %q) = %d, %t, %v; want %d, %t, error %t", tc.container, tc.goMemLimit, got, ok, err, tc.want, tc.ok, tc.fails)
			}
		})
	}
}

func TestGCPercent(t *testing.T) {
	for goGC, want := range map[string]bool{"": true, "100": false, "off": false} {
		percent, ok := gcPercent(goGC)
		if ok != want || (ok && percent != defaultGCPercent) {
			t.Errorf("gcPercent(%q) = %d, %t; want the default %t", goGC, percent, ok, want)
		}
	}
}

func TestAllocationProfileRate(t *testing.T) {
	for addr, want := range map[string]int{"0": 0, "": 0, "127.0.0.1:6065": runtime.MemProfileRate, ":8082": runtime.MemProfileRate} {
		if got := allocationProfileRate(addr); got != want {
			t.Errorf("allocationProfileRate(%q) = %d; want %d", addr, got, want)
		}
	}
}
