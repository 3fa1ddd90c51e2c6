#!/usr/bin/env bash
# Runs every fuzz target of the module, one after another, for FUZZTIME each
# (default 60s), and fails if any of them fails. The targets are discovered
# with `go test -list`, so a new Fuzz function anywhere is run without
# editing this script or the Makefile. A failing input is written to the
# package's testdata/fuzz/<FuzzName>/, where `go test` then replays it.
set -euo pipefail

FUZZTIME=${FUZZTIME:-60s}
cd "$(dirname "$0")/.."

# `go test -list` prints a package's matching names, then its "ok" line.
targets=$(go test -list '^Fuzz' ./... | awk '
  /^Fuzz/ { names[n++] = $1; next }
  /^ok/   { for (i = 0; i < n; i++) print $2, names[i] }
          { n = 0 }')
if [ -z "${targets}" ]; then
  echo "no fuzz targets found" >&2
  exit 1
fi

failed=()
while read -r pkg name; do
  echo "=== fuzzing ${name} in ${pkg} for ${FUZZTIME}"
  # -run '^$': the package's other tests (envtest suites) do not run here.
  if ! go test "${pkg}" -run '^$' -fuzz "^${name}\$" -fuzztime "${FUZZTIME}"; then
    failed+=("${pkg} ${name}")
  fi
done <<< "${targets}"

if [ ${#failed[@]} -gt 0 ]; then
  printf 'fuzz target failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
