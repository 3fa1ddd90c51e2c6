#!/usr/bin/env bash
# Builds etcd, kube-apiserver and kube-controller-manager from the Go module
# proxy (test/controlplane) into a per-user cache, then links them where
# envtest looks for them. A cold build takes several minutes; later calls, even
# from a fresh clone on the same machine, only relink.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.37.2}
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${READYGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/readygate}/k8s/v${K8S_VERSION}
assets=${root}/bin/k8s/${K8S_VERSION}-$(go env GOOS)-$(go env GOARCH)

build() { # build <binary name> <package>
  local name=$1 pkg=$2
  [ -x "${cache}/${name}" ] && return
  echo "building ${name} for control plane v${K8S_VERSION} (cached in ${cache})" >&2
  local ldflags="-s -w"
  for v in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X ${v}.gitVersion=v${K8S_VERSION} -X ${v}.gitMajor=${K8S_VERSION%%.*}"
    ldflags+=" -X ${v}.gitMinor=$(echo "${K8S_VERSION}" | cut -d. -f2) -X ${v}.gitTreeState=clean"
  done
  (cd "${root}/test/controlplane" && CGO_ENABLED=0 go build -trimpath -ldflags "${ldflags}" -o "${cache}/${name}.tmp" "${pkg}")
  mv "${cache}/${name}.tmp" "${cache}/${name}"
}

mkdir -p "${cache}" "${assets}"
build etcd go.etcd.io/etcd/server/v3
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
for b in etcd kube-apiserver kube-controller-manager; do
  ln -sf "${cache}/${b}" "${assets}/${b}"
done
echo "${assets}"
