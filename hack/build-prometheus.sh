#!/usr/bin/env bash
# Builds the Prometheus server that the prometheus source's tests run, from
# the Go module proxy, into a per-user cache, and links it into bin/. A cold
# build takes several minutes; later calls only relink.
set -euo pipefail

PROMETHEUS_VERSION=${PROMETHEUS_VERSION:-v0.316.0}
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${READYGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/readygate}/prometheus/${PROMETHEUS_VERSION}

if [ ! -x "${cache}/prometheus" ]; then
  echo "building prometheus ${PROMETHEUS_VERSION} (cached in ${cache})" >&2
  mkdir -p "${cache}"
  GOBIN="${cache}" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" "github.com/prometheus/prometheus/cmd/prometheus@${PROMETHEUS_VERSION}"
fi
mkdir -p "${root}/bin"
ln -sf "${cache}/prometheus" "${root}/bin/prometheus"
