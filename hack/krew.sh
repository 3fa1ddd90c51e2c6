#!/usr/bin/env bash
# Builds the kubectl-rgp archives krew installs (dist/kubectl-rgp_<os>_<arch>.tar.gz,
# reproducible: -trimpath, no build id, fixed tar metadata) and writes
# plugins/rgp.yaml, the krew manifest, with their sha256.
set -euo pipefail
VERSION=${VERSION:?set VERSION, e.g. 0.1.0}
REPO=${REPO:-https://github.com/readygate/readygate}
cd "$(dirname "$0")/.."
mkdir -p dist
platforms=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64)
entries=""
for p in "${platforms[@]}"; do
  os=${p%/*} arch=${p#*/}
  dir=$(mktemp -d)
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags "-s -w -buildid=" -o "$dir/kubectl-rgp" ./cmd/kubectl-rgp
  cp LICENSE "$dir/LICENSE" 2>/dev/null || true
  archive=dist/kubectl-rgp_${os}_${arch}.tar.gz
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$dir" -cf - . | gzip -n > "$archive"
  rm -rf "$dir"
  sum=$(sha256sum "$archive" | cut -d' ' -f1)
  entries+="  - selector:
      matchLabels:
        os: $os
        arch: $arch
    uri: $REPO/releases/download/v$VERSION/kubectl-rgp_${os}_${arch}.tar.gz
    sha256: $sum
    bin: kubectl-rgp
    files:
    - from: kubectl-rgp
      to: .
    - from: LICENSE
      to: .
"
done
cat > plugins/rgp.yaml <<YAML
# The krew manifest of kubectl rgp. Written by \`make krew VERSION=…\` (hack/krew.sh)
# from the archives it builds into dist/; checked by krew's validate-krew-manifest
# in \`make test\`.
apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: rgp
spec:
  version: v$VERSION
  homepage: $REPO
  shortDescription: Explain, test and follow readygate readiness-gate policies
  description: |
    kubectl rgp answers the questions pod readiness gates raise, for clusters
    that run the readygate operator:
      explain  why is this pod not ready: every ReadinessGatePolicy that
               selects it, its expression evaluated now against live data,
               and what would change the verdict
      test     will this policy do what I mean: evaluates a policy offline
               against pod files, for CI, with exit codes 0/1/2
      status   how far is the rollout; --watch waits until every gated pod
               is True
  caveats: |
    explain reads http and metrics sources through the API server's
    pods/proxy: without "get pods/proxy" it shows the operator's last verdict.
  platforms:
$entries
YAML
echo "wrote plugins/rgp.yaml for v$VERSION"
