#!/bin/sh
# Whether a binary holds objects of a static library: the strong symbols (functions and data,
# T/D/B/R in nm's terms) the library defines that the binary defines too. Inline functions and
# template instances (weak, W/V/u) are left out: every library that includes the same header
# defines those, so they say nothing about which objects were linked.
#
# Usage: objects_of_library.sh NM BINARY LIBRARY none|some
#   none: fails when the binary holds any, and lists them (demangled);
#   some: fails when it holds none (the check's own test, on a binary that must hold some).
set -eu
nm_tool=$1
binary=$2
library=$3
expect=$4

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

strong_symbols() {
  "$nm_tool" --defined-only "$1" | awk 'NF == 3 && $2 ~ /^[TDBR]$/ { print $3 }' | sort -u
}
strong_symbols "$library" >"$tmp/library"
strong_symbols "$binary" >"$tmp/binary"
for read in library binary; do
  if [ ! -s "$tmp/$read" ]; then
    echo "no symbols read from the $read ($library / $binary): the check cannot tell" >&2
    exit 1
  fi
done
comm -12 "$tmp/library" "$tmp/binary" >"$tmp/both"
count=$(wc -l <"$tmp/both")
echo "$(basename "$binary") holds $count of the $(wc -l <"$tmp/library") symbols $(basename "$library") defines"
case "$expect" in
  none)
    if [ "$count" -gt 0 ]; then
      echo "$(basename "$binary") links objects of $(basename "$library"); for instance:" >&2
      head -n 20 "$tmp/both" | c++filt >&2
      exit 1
    fi
    ;;
  some)
    if [ "$count" -eq 0 ]; then
      echo "nothing found although $(basename "$binary") uses $(basename "$library")" >&2
      exit 1
    fi
    ;;
  *)
    echo "expect: none or some, not $expect" >&2
    exit 2
    ;;
esac
