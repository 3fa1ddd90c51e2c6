//go:build tools

// Package olm pins the OLM operator that test/install runs to take the
// bundle's CSV to Succeeded. Its own module: OLM needs k8s.io v0.33 and
// replace directives of its own.
package olm

import _ "github.com/operator-framework/operator-lifecycle-manager/cmd/olm"
