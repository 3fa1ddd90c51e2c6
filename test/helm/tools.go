//go:build tools

// Package helm pins the helm CLI that make test runs (helm lint, helm
// template) and make release packages the chart with. Its own module: helm
// needs k8s.io versions of its own, which must not move the operator's.
package helm

import _ "helm.sh/helm/v3/cmd/helm"
