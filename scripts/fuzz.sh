#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (coverage-instrumented, AddressSanitizer and UBSan) and
# runs each for PIXQ_FUZZ_SECONDS (default 30) over its committed corpus in tests/fuzz/corpus.
# Usage: scripts/fuzz.sh [build-dir]   (a crash fails the run and leaves crash-* here)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${1:-build-fuzz}"
LAUNCHER=()
if command -v ccache >/dev/null; then LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPIXQ_WERROR=ON -DPIXQ_FUZZ=ON -DPIXQ_FUZZ_SECONDS="${PIXQ_FUZZ_SECONDS:-30}" \
  "${LAUNCHER[@]}" >/dev/null
ninja -C "$BUILD_DIR" -j "${PIXQ_JOBS:-$(nproc)}" pixq_fuzz_job_spec pixq_fuzz_multipart \
  pixq_fuzz_image_header pixq_fuzz_png_decode pixq_fuzz_jpeg_scans pixq_fuzz_heif_header \
  pixq_fuzz_heif_decode pixq_fuzz_gif_decode
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir "$BUILD_DIR" --output-on-failure -L fuzz
