#!/usr/bin/env bash
# Puts sections from bench/results into bench/RESULTS.md after a run of some parts only
# (bench/system/run.sh --parts ...): each named section replaces the one with the same heading,
# or is added at the end. The rest of RESULTS.md, its header included, stays as the full run
# wrote it; the sections of a partial run say where they came from (their first quoted line).
#
# Usage: bench/splice_results.sh SECTION...   e.g. bench/splice_results.sh end_to_end pickup
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: bench/splice_results.sh SECTION..." >&2; exit 2; }
RESULTS_MD=bench/RESULTS.md
for section in "$@"; do
  file="bench/results/$section.md"
  [ -s "$file" ] || { echo "splice_results.sh: $file is missing" >&2; exit 1; }
  heading="$(head -1 "$file")"
  case "$heading" in "## "*) ;; *) echo "splice_results.sh: $file does not start with a ## heading" >&2; exit 1 ;; esac
  # The section runs from its heading to the next "## " heading; a trailing blank line separates it.
  awk -v heading="$heading" -v file="$file" '
    function put() { while ((getline line < file) > 0) print line; print ""; done = 1 }
    $0 == heading { put(); skip = 1; next }
    skip && /^## / { skip = 0 }
    !skip { print; last = $0 }
    END { if (!done) { if (last != "") print ""; put() } }' "$RESULTS_MD" >"$RESULTS_MD.tmp"
  mv "$RESULTS_MD.tmp" "$RESULTS_MD"
done
echo "bench/splice_results.sh: $RESULTS_MD now has $* from bench/results"
