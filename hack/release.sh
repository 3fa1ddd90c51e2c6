#!/usr/bin/env bash
# make release VERSION=x.y.z: writes into DIST (dist/) the kustomize install
# (config/default, cert-manager) with the image set to IMG, and the Helm
# chart packaged with version and appVersion VERSION. config/ is built from
# a copy, so the working tree stays as it is.
set -euo pipefail

: "${VERSION:?set VERSION=x.y.z}" "${IMG:?set IMG}" "${KUSTOMIZE:?}" "${HELM:?}"
if [[ ! ${VERSION} =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "make release: VERSION=${VERSION} is not a semantic version x.y.z" >&2
  exit 1
fi
root=$(cd "$(dirname "$0")/.." && pwd)
dist=$(mkdir -p "${DIST:-${root}/dist}" && cd "${DIST:-${root}/dist}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT

cp -r "${root}/config" "${work}/config"
(cd "${work}/config/manager" && "${KUSTOMIZE}" edit set image "controller=${IMG}")
"${KUSTOMIZE}" build "${work}/config/default" > "${dist}/install.yaml"
"${HELM}" package "${root}/charts/readygate" --version "${VERSION}" --app-version "${VERSION}" --destination "${dist}" >&2
echo "wrote ${dist}/install.yaml and ${dist}/readygate-${VERSION}.tgz" >&2
