#!/usr/bin/env bash
# Configures and builds pixq. Usage: scripts/build.sh [build-dir] [extra cmake args...]
# Warnings are errors here, as in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${1:-build}"
shift || true
JOBS="${PIXQ_JOBS:-$(nproc)}"
LAUNCHER=()
if command -v ccache >/dev/null; then LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${PIXQ_BUILD_TYPE:-RelWithDebInfo}" \
  -DPIXQ_WERROR=ON "${LAUNCHER[@]}" "$@" >/dev/null
ninja -C "$BUILD_DIR" -j "$JOBS"
