#!/bin/sh
# Passes when every Debian package whose shared libraries <binary> loads (ldd, then dpkg -S) also
# provides libraries <host> loads: a binary copied into <host>'s image (the pixq CLI into
# pixq-api's) then needs no package more than that image installs, which
# deploy.docker_api_runtime_libraries checks for <host>.
#   needs_no_more_than.sh <binary> <host>
set -eu
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# One dpkg query for all of a binary's libraries ("package: path" lines; a library under two
# spellings of its path, /lib and /usr/lib, names the same package).
packages() {
  # shellcheck disable=SC2046
  dpkg -S $(ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// {print "*/" $1} $1 ~ /^\// {print "*/" $1}' |
    sed 's|\*/.*/|*/|') 2>/dev/null | cut -d: -f1 | tr ', ' '\n\n' | grep -v '^$' | sort -u
}
packages "$1" >"$work/binary"
packages "$2" >"$work/host"
[ -s "$work/binary" ] || { echo "FAIL: no package found for what $(basename "$1") loads" >&2; exit 1; }
extra="$(comm -23 "$work/binary" "$work/host" | tr '\n' ' ')"
if [ -n "$extra" ]; then
  echo "FAIL: $(basename "$1") needs packages $(basename "$2") does not: $extra" >&2
  exit 1
fi
echo "$(basename "$1") needs no package $(basename "$2") does not: $(tr '\n' ' ' <"$work/binary")"
