#!/usr/bin/env bash
# Checks a Dockerfile's runtime stage against the binary it ships, without a container engine:
#   - the build stage is Debian 12 and the runtime stage debian:12-slim, running as a numeric
#     non-root user, and installs no build tools (compilers, -dev packages);
#   - every shared library the built binary loads (ldd) comes from a Debian package (dpkg -S)
#     that the runtime stage's `apt-get install` names, or that one of the named packages
#     depends on, or that debian:12-slim already has; and the packages of the libraries the
#     binary links directly (DT_NEEDED) are named outright, not left to chance dependencies.
# This machine is Debian 12 with the same packages the image installs, so its dpkg database
# answers for the image.
#
#   check-docker-runtime.sh <Dockerfile> <binary> [--self-test]
# --self-test also proves the check refuses the Dockerfile with a library package left out, and
# with a compiler added to the runtime stage.
set -euo pipefail
dockerfile="$1"
binary="$2"

if [ "${3:-}" = "--self-test" ]; then
  "$0" "$dockerfile" "$binary"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # Leave out libyaml-cpp, which both binaries link directly.
  dropped="$(grep -o '^ *libyaml-cpp[^ ]*' "$dockerfile" | tail -1 | tr -d ' ')"
  grep -v "^ *$dropped [\\]\$" "$dockerfile" >"$work/missing.Dockerfile"
  sed 's/^\( *\)ca-certificates \\$/\1ca-certificates g++ \\/' "$dockerfile" >"$work/compiler.Dockerfile"
  for broken in missing compiler; do
    if "$0" "$work/$broken.Dockerfile" "$binary" >"$work/out" 2>&1; then
      echo "FAIL: self-test: the $broken Dockerfile was accepted" >&2
      exit 1
    fi
    echo "self-test: $broken rejected: $(grep -m1 FAIL "$work/out")"
  done
  exit 0
fi
name="$(basename "$binary")"
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# debian:12-slim's packages (its rootfs manifest for bookworm): what the runtime stage need
# not install. Only these; anything else must come from the apt-get install line.
BASE_SET="adduser apt base-files base-passwd bash bsdutils coreutils dash debconf
debian-archive-keyring debianutils diffutils dpkg e2fsprogs findutils gcc-12-base gpgv grep gzip
hostname init-system-helpers libacl1 libapt-pkg6.0 libattr1 libaudit-common libaudit1 libblkid1
libbz2-1.0 libc-bin libc6 libcap-ng0 libcap2 libcom-err2 libcrypt1 libdb5.3 libdebconfclient0
libext2fs2 libffi8 libgcc-s1 libgcrypt20 libgmp10 libgnutls30 libgpg-error0 libhogweed6 libidn2-0
liblz4-1 liblzma5 libmd0 libmount1 libnettle8 libp11-kit0 libpam-modules libpam-modules-bin
libpam-runtime libpam0g libpcre2-8-0 libseccomp2 libselinux1 libsemanage-common libsemanage2
libsepol2 libsmartcols1 libss2 libstdc++6 libsystemd0 libtasn1-6 libtinfo6 libudev1 libunistring2
libuuid1 libxxhash0 libzstd1 login logsave mawk mount ncurses-base ncurses-bin passwd perl-base sed
sysvinit-utils tar tzdata usr-is-merged util-linux util-linux-extra zlib1g"

# The Dockerfile with continuation lines joined, one instruction a line.
instructions="$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$dockerfile" | grep -v '^\s*#' | grep -v '^\s*$')"
runtime="$(awk '/^FROM /{stage=""} {stage=stage $0 "\n"} END{printf "%s", stage}' <<<"$instructions")"
froms="$(grep '^FROM ' <<<"$instructions")"
[ "$(head -1 <<<"$froms" | awk '{print $2}')" = "debian:12" ] || fail "the build stage is not FROM debian:12"
[ "$(head -1 <<<"$runtime" | awk '{print $2}')" = "debian:12-slim" ] || fail "the runtime stage is not FROM debian:12-slim"

user="$(grep '^USER ' <<<"$runtime" | tail -1 | awk '{print $2}')"
if ! [[ "$user" =~ ^[0-9]+(:[0-9]+)?$ ]] || [ "${user%%:*}" -eq 0 ]; then
  fail "the runtime stage's USER is '$user', not a numeric non-root uid"
fi
grep -q "^COPY --from=build .*" <<<"$runtime" || fail "the runtime stage copies nothing from the build stage"
grep -q "^ENTRYPOINT \[\"/usr/local/bin/$name\"\]" <<<"$runtime" || fail "the entrypoint is not $name"

# The packages of the runtime stage's apt-get install: the words after "install" up to "&&".
named="$(grep -o 'apt-get install[^&]*' <<<"$runtime" | tr ' ' '\n' | grep -v -e '^-' -e '^$' \
  -e '^apt-get$' -e '^install$' | sort -u)"
[ -n "$named" ] || fail "the runtime stage installs no packages"
for p in $named; do
  case "$p" in
    *-dev | g++* | gcc* | clang* | cmake | ninja-build | make | pkg-config | build-essential)
      fail "the runtime stage installs the build tool $p" ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    fail "the runtime stage names $p, which is not a Debian 12 package installed here"
done

# The Depends/Pre-Depends closure of the named packages, over what dpkg knows here (one query
# for every package's dependencies, then a breadth-first walk in awk).
closure="$(dpkg-query -W -f='${Package}\t${Depends},${Pre-Depends}\n' | awk -F'\t' -v named="$named" '
  { deps[$1] = $2 }
  END {
    n = split(named, queue, "\n")
    for (i = 1; i <= n; i++) seen[queue[i]] = 1
    for (i = 1; i <= n; i++) {
      m = split(deps[queue[i]], ds, /[,|]/)
      for (j = 1; j <= m; j++) {
        d = ds[j]; sub(/\(.*\)/, "", d); sub(/:any/, "", d); gsub(/ /, "", d)
        if (d != "" && !(d in seen)) { seen[d] = 1; queue[++n] = d }
      }
    }
    for (p in seen) print p
  }')"

# The libraries ldd resolves, as "soname path". Debian 12 merged /lib into /usr/lib but dpkg
# records the path each package was built with, so each library is looked up under every
# spelling, in one pass over dpkg's file lists ("package path" lines).
libs="$(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3} $1 ~ /^\// {print $1, $1}')"
spellings="$(while read -r soname path; do
  real="$(readlink -f "$path")"
  printf '%s %s\n' "$soname" "$path" "$soname" "$real" "$soname" "${real#/usr}" "$soname" "/usr${path#/usr}"
done <<<"$libs" | sort -u)"
owners="$(grep -xF -f <(cut -d' ' -f2 <<<"$spellings") /var/lib/dpkg/info/*.list |
  sed -e 's|^/var/lib/dpkg/info/||' -e 's|\(:[a-z0-9]*\)\{0,1\}\.list:| |')"
direct="$(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"

# One verdict per library: from the base image, named, or brought by a named package.
verdicts="$(awk -v name="$name" '
  FNR == 1 { file++ }
  file == 1 { owner[$2] = $1; next }
  file == 2 { for (i = 1; i <= NF; i++) base[$i] = 1; next }
  file == 3 { named[$1] = 1; next }
  file == 4 { closure[$1] = 1; next }
  file == 5 { direct[$1] = 1; next }
  file == 6 { if (!($1 in pkg) && ($2 in owner)) pkg[$1] = owner[$2]; libs[$1] = 1; next }
  END {
    for (l in libs) {
      p = pkg[l]
      if (p == "") print "FAIL " l " belongs to no Debian package"
      else if (p in base) print "ok"
      else if ((l in direct) && !(p in named))
        print "FAIL " name " links " l " directly; its package " p " is not in the runtime stage'"'"'s apt-get install"
      else if (!(p in closure)) print "FAIL " name " needs " l " from " p ", which nothing the runtime stage installs brings"
      else print "ok"
    }
  }' \
  <(printf '%s\n' "$owners") <(echo "$BASE_SET") <(printf '%s\n' "$named") \
  <(printf '%s\n' "$closure") <(printf '%s\n' "$direct") <(printf '%s\n' "$spellings"))"
libraries="$(wc -l <<<"$verdicts")"
while read -r verdict; do
  if [ "$verdict" != ok ]; then fail "${verdict#FAIL }"; fi
done <<<"$verdicts"

if [ "$failures" -gt 0 ]; then
  echo "$(basename "$dockerfile"): $failures failed" >&2
  exit 1
fi
echo "$(basename "$dockerfile"): $libraries shared libraries of $name covered by $(wc -w <<<"$named") named packages; 1 passed, 0 failed"
