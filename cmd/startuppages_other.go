//go:build !linux

package main

// releaseStartupPages does nothing where the operator does not run in
// production; see startuppages_linux.go.
func releaseStartupPages() error { return nil }
