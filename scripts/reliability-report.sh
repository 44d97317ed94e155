#!/usr/bin/env bash
# Runs the reliability tests (from build/, built from a clean tree) under one run id and writes
# docs/reliability.md from the figures they recorded (scripts/reliability-report.mjs).
# Usage: scripts/reliability-report.sh   (after scripts/build.sh build)
set -euo pipefail
cd "$(dirname "$0")/.."
commit="$(git rev-parse --short HEAD)"
if [ -n "$(git status --porcelain --untracked-files=no -- . ':!docs/reliability.md')" ]; then
  commit="$commit with uncommitted changes"
fi
export PIXQ_FIGURES_RUN="$(date -u +%Y%m%dT%H%M%SZ)-$$"
ctest --test-dir build --output-on-failure \
  -R 'WorkerFaultsTest|OutageTest|BacklogTest|PoisonTest|UrlImportTest.TransientFailures|DurabilityTest|RestartTest|StateStoreTest'
node scripts/reliability-report.mjs build/figures/reliability.jsonl docs/reliability.md "$commit"
