#!/usr/bin/env bash
# Builds the OLM operator (olm) from the Go module proxy (test/olm) into a
# per-user cache and links it into bin/. test/install runs it to take the
# bundle's CSV to Succeeded.
set -euo pipefail

OLM_VERSION=$(cd "$(dirname "$0")/../test/olm" && go list -m -f '{{.Version}}' github.com/operator-framework/operator-lifecycle-manager)
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${READYGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/readygate}/olm/${OLM_VERSION}

if [ ! -x "${cache}/olm" ]; then
  echo "building the OLM operator ${OLM_VERSION} (cached in ${cache})" >&2
  mkdir -p "${cache}"
  (cd "${root}/test/olm" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "${cache}/olm.tmp" github.com/operator-framework/operator-lifecycle-manager/cmd/olm)
  mv "${cache}/olm.tmp" "${cache}/olm"
fi
mkdir -p "${root}/bin"
ln -sf "${cache}/olm" "${root}/bin/olm"
