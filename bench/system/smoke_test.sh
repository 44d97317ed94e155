#!/usr/bin/env bash
# ctest bench.system_smoke: bench/system/run.sh --smoke into OUT, then checks that every section
# and its JSON were written and say whether their target was met. Asserts nothing about speed.
# Usage: smoke_test.sh BUILD_DIR OUT_DIR
set -euo pipefail
BUILD="$1"
OUT="$2"
rm -rf "$OUT"
# What scripts/setup.sh --bench installs; without it the test is skipped (77), not failed.
if ! command -v wrk >/dev/null || ! dpkg-query -W lomiri-wallpapers-20.04 >/dev/null 2>&1; then
  echo "smoke: wrk or Debian's photographs are missing: run scripts/setup.sh --bench" >&2
  exit 77
fi
"$(dirname "$0")/run.sh" --smoke --build "$BUILD" --out "$OUT"
status=0
for section in end_to_end api memory scaling pickup; do
  md="$OUT/$section.md"
  if [ ! -s "$md" ] || [ ! -s "$OUT/$section.json" ]; then
    echo "smoke: $section.md or $section.json missing" >&2
    status=1
  elif ! grep -q '^## ' "$md" || ! grep -q '^\*\*Target:\*\*' "$md" ||
    ! grep -qE '^\*\*Result: .*(met|not met)' "$md"; then
    echo "smoke: $md lacks its heading, target or result" >&2
    status=1
  elif grep -qwE 'nan|-nan|inf' "$md"; then
    echo "smoke: $md has an empty or non-numeric figure" >&2
    grep -nwE 'nan|-nan|inf' "$md" >&2
    status=1
  fi
done
exit "$status"
