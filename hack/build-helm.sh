#!/usr/bin/env bash
# Builds the helm CLI from the Go module proxy (test/helm) into a per-user
# cache and links it into bin/. make test lints, renders and installs the
# chart with it; make release packages the chart.
set -euo pipefail

HELM_VERSION=$(cd "$(dirname "$0")/../test/helm" && go list -m -f '{{.Version}}' helm.sh/helm/v3)
# The Kubernetes version helm assumes without a cluster (helm template, helm
# lint), from its client-go as helm's own Makefile does: v0.37 is 1.37.
CLIENT_GO_MINOR=$(cd "$(dirname "$0")/../test/helm" && go list -m -f '{{.Version}}' k8s.io/client-go | cut -d. -f2)
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${READYGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/readygate}/helm/${HELM_VERSION}

if [ ! -x "${cache}/helm" ]; then
  echo "building helm ${HELM_VERSION} (cached in ${cache})" >&2
  mkdir -p "${cache}"
  (cd "${root}/test/helm" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} \
      -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${CLIENT_GO_MINOR} \
      -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${CLIENT_GO_MINOR}" \
    -o "${cache}/helm.tmp" helm.sh/helm/v3/cmd/helm)
  mv "${cache}/helm.tmp" "${cache}/helm"
fi
mkdir -p "${root}/bin"
ln -sf "${cache}/helm" "${root}/bin/helm"
