#!/usr/bin/env bash
# Installs, from Debian's package repository, everything pixq needs to build, run and test.
# Idempotent; prints nothing when everything is already there.
set -euo pipefail

PACKAGES=(
  # toolchain
  g++ cmake ninja-build pkg-config ccache clang-format
  # libraries (each wrapped by one pkg/ library)
  libpistache-dev librdkafka-dev libopencv-dev prometheus-cpp-dev libyaml-cpp-dev libabsl-dev
  nlohmann-json3-dev libcurl4-openssl-dev libssl-dev libcli11-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # real photographs (13-20 MP JPEGs under /usr/share/backgrounds) for the tests
  lomiri-wallpapers-20.04
  # kcat: a Kafka command-line client, handy against the local broker
  kcat curl
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}" >&2
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
