#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time over its committed corpus.
# Usage: run.sh <fuzzer binary> <corpus dir> <seconds>
# New inputs go to a temporary directory (the committed corpus is read, never written); a crash
# leaves its reproducer in the current directory and fails the run.
set -euo pipefail
fuzzer="$1"
corpus="$2"
seconds="$3"
scratch="$(mktemp -d)"
# Leaks in third-party libraries that are not pixq's to fix (each explained there).
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
trap 'rm -rf "$scratch"' EXIT
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 "$scratch" "$corpus"
