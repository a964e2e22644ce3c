#!/usr/bin/env bash
# Builds the CNCF Distribution registry 3.x (github.com/distribution/distribution/v3/cmd/registry) from the Go
# module proxy with the machine's Go into .cache/registry-v3/registry. Debian ships only 2.8 (docker-registry);
# tests/e2e runs the same scenario against this build to cover the events.v2+json envelope (DESIGN.md section 7).
# Idempotent: does nothing when the binary of this version is already there. Prints the binary's path.
# A fresh build downloads the modules and compiles for about 4 minutes on 2 cores; later runs cost nothing.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${REGAUDIT_REGISTRY_V3_VERSION:-v3.1.2}"
dir="${REGAUDIT_REGISTRY_V3_DIR:-$repo/.cache/registry-v3}"
binary="$dir/registry"

if [[ -x "$binary" ]] && "$binary" --version 2>/dev/null | grep -qF " $version"; then
    echo "$binary"
    exit 0
fi

command -v go >/dev/null || { echo "install-registry-v3: go not found (Go 1.21+ is needed)" >&2; exit 1; }

# Build into a fresh directory, then move the binary into place, so an interrupted run never looks complete.
mkdir -p "$dir"
staging="$(mktemp -d "$dir/build.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
# GOTOOLCHAIN=auto lets an older Go fetch the toolchain the module asks for, through the same module proxy.
if ! GOBIN="$staging" GOFLAGS=-mod=mod GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" \
    go install "github.com/distribution/distribution/v3/cmd/registry@$version" >"$staging/build.log" 2>&1; then
    tail -n 30 "$staging/build.log" >&2
    echo "install-registry-v3: go install of distribution $version failed" >&2
    exit 1
fi
mv "$staging/registry" "$binary"
echo "install-registry-v3: $("$binary" --version)" >&2
echo "$binary"
