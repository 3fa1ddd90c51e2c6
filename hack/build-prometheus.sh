#!/usr/bin/env bash
# Builds the Prometheus server that the prometheus source's tests run, and
# promtool from the same module version for the alert rules' tests, from the
# Go module proxy, into a per-user cache, and links both into bin/. A cold
# build takes several minutes; later calls only relink.
set -euo pipefail

PROMETHEUS_VERSION=${PROMETHEUS_VERSION:-v0.316.0}
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${READYGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/readygate}/prometheus/${PROMETHEUS_VERSION}

mkdir -p "${root}/bin"
for tool in prometheus promtool; do
  if [ ! -x "${cache}/${tool}" ]; then
    echo "building ${tool} ${PROMETHEUS_VERSION} (cached in ${cache})" >&2
    mkdir -p "${cache}"
    GOBIN="${cache}" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" "github.com/prometheus/prometheus/cmd/${tool}@${PROMETHEUS_VERSION}"
  fi
  ln -sf "${cache}/${tool}" "${root}/bin/${tool}"
done
