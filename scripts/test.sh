#!/usr/bin/env bash
# Builds pixq and runs every test: formatting, unit tests, the integration tests against real
# processes (pixq-devbroker, pixq-api, pixq-worker), then all of them again under
# AddressSanitizer and UndefinedBehaviorSanitizer, then the fuzz targets for a bounded time, then
# the container images built and run from the Helm chart in podman (as root; skipped, saying so,
# otherwise). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
# With the benchmarks' tools: their harnesses run once, briefly, as smoke tests (ctest label bench).
scripts/setup.sh --bench

echo "== format check"
files=$(git ls-files '*.cc' '*.h' 2>/dev/null || find cmd pkg tests bench -name '*.cc' -o -name '*.h')
if ! clang-format --dry-run --Werror $files; then
  echo "format check failed: run scripts/format.sh" >&2
  exit 1
fi

echo "== build"
scripts/build.sh build

echo "== tests (unit, integration, and the benchmark harnesses' smoke runs)"
ctest --test-dir build --output-on-failure --timeout 900 -j 2

echo "== unit and integration tests under AddressSanitizer and UndefinedBehaviorSanitizer"
# The integration tests start the sanitized binaries, so a memory error or undefined behaviour in
# pixq-api, pixq-worker or pixq-devbroker aborts that process and fails its test. (The benchmark
# harnesses' smoke runs are left to the optimised build.)
scripts/build.sh build-asan -DPIXQ_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure --timeout 900 -j 2 -LE bench

echo "== fuzzing: libFuzzer targets (clang, ASan, UBSan), ${PIXQ_FUZZ_SECONDS:-30} s each"
scripts/fuzz.sh build-fuzz

# The images built from deploy/docker's Dockerfiles and the chart's own manifests run in podman
# beside pixq-devbroker, checked as an operator would (tests/containers/check-running.sh). Root:
# debootstrap makes the base image, and rootless podman needs subuid ranges CI machines lack.
echo "== containers: images built, the chart run in podman (scripts/containers.sh check)"
if [ "$(id -u)" -ne 0 ]; then
  echo "containers: SKIPPED, not root (debootstrap and rootful podman need it); CI runs it as root"
else
  scripts/containers.sh check
fi
