#!/usr/bin/env bash
# Checks, without a container engine, that each image's build context holds what its build
# reads: no file under a folder the CMake build adds (add_subdirectory, followed from the root
# CMakeLists.txt through every CMakeLists.txt it reaches), and nothing a Dockerfile COPYs from
# the context, is left out by that Dockerfile's ignore file (<Dockerfile>.dockerignore, which
# docker's BuildKit reads and scripts/containers.sh passes to podman as --ignorefile).
# The ignore file is read as docker and podman read it: patterns in order, `*` and `?` within one
# path segment, `**` across segments, `!` to take back, the last pattern that matches a path or
# one of its parent folders decides.
#
#   check-ignore-files.sh <repository> [--self-test]
# --self-test also proves the check refuses an ignore file that leaves out a folder the build
# adds (bench/, as the ignore files once did), and one that leaves out a file a Dockerfile copies.
set -euo pipefail
repo="$(cd "$1" && pwd)"

if [ "${2:-}" = "--self-test" ]; then
  "$0" "$repo"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # Copies of the repository (its sources, not .git, build trees or npm installs), each with an
  # ignore file broken in one way.
  mkdir "$work/bench-ignored"
  tar -C "$repo" --exclude=./.git --exclude='./build*' --exclude=./var --exclude=node_modules \
    -cf - . | tar -xf - -C "$work/bench-ignored"
  cp -r "$work/bench-ignored" "$work/lock-ignored"
  echo 'bench' >>"$work/bench-ignored/deploy/docker/worker.Dockerfile.dockerignore"
  echo '**/package-lock.json' >>"$work/lock-ignored/deploy/docker/api.Dockerfile.dockerignore"
  for broken in bench-ignored lock-ignored; do
    if "$0" "$work/$broken" >"$work/out" 2>&1; then
      echo "FAIL: self-test: the ignore file with $broken was accepted" >&2
      exit 1
    fi
    echo "self-test: $broken rejected: $(grep -m1 FAIL "$work/out")"
  done
  exit 0
fi

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# An ignore pattern as an extended regular expression over a path relative to the context.
pattern_regex() {
  local p="$1" out="" c i=0
  while [ $i -lt ${#p} ]; do
    c="${p:i:1}"
    case "$c" in
      '*')
        if [ "${p:i+1:1}" = '*' ]; then
          i=$((i + 1))
          if [ "${p:i+1:1}" = / ]; then
            out+='(.*/)?'
            i=$((i + 1))
          else
            out+='.*'
          fi
        else
          out+='[^/]*'
        fi
        ;;
      '?') out+='[^/]' ;;
      '[') out+='[' ;;
      ']') out+=']' ;;
      '\') out+="\\${p:i+1:1}" && i=$((i + 1)) ;;
      [.+^\$\(\)\{\}\|]) out+="\\$c" ;;
      *) out+="$c" ;;
    esac
    i=$((i + 1))
  done
  echo "^$out\$"
}

# Reads one ignore file into the arrays regexes[] and negated[], cleaned as docker cleans them.
load_ignore() {
  regexes=()
  negated=()
  local line neg
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line%$'\r'}"
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    [ -n "$line" ] && [ "${line:0:1}" != '#' ] || continue
    neg=0
    if [ "${line:0:1}" = '!' ]; then
      neg=1
      line="${line:1}"
    fi
    # Leading and trailing slashes and ./ mean nothing to docker: "/build*/" is "build*".
    line="$(sed -e 's#^\(\./\)*##' -e 's#^/*##' -e 's#/*$##' <<<"$line")"
    [ -n "$line" ] || line=.
    regexes+=("$(pattern_regex "$line")")
    negated+=("$neg")
  done <"$1"
}

# The paths of stdin (relative to the context) that the loaded ignore file leaves out. One awk
# for all of them: a path is out when the last pattern matching it or a parent folder is not a "!".
excluded_paths() {
  local i
  awk -F'\t' 'NR == FNR { neg[NR] = $1; re[NR] = $2; n = NR; next }
      {
        out = 0
        for (i = 1; i <= n; i++) {
          p = $0
          while (1) {
            if (p ~ re[i]) { out = !neg[i]; break }
            if (index(p, "/") == 0) break
            sub(/\/[^\/]*$/, "", p)
          }
        }
        if (out) print $0
      }' <(for i in "${!regexes[@]}"; do printf '%s\t%s\n' "${negated[$i]}" "${regexes[$i]}"; done) -
}
excluded() { [ -n "$(excluded_paths <<<"$1")" ]; }

# The folders the build adds, from the root CMakeLists.txt down: the first word of every
# add_subdirectory(...), relative to the folder of the CMakeLists.txt that names it.
build_dirs() {
  local dir="$1" sub d
  echo "$dir"
  for sub in $(sed -e 's/#.*//' "$repo/$dir/CMakeLists.txt" |
    grep -oE 'add_subdirectory\([[:space:]]*[^[:space:])]+' | sed -E 's/add_subdirectory\([[:space:]]*//'); do
    if [ "$dir" != . ]; then sub="$dir/$sub"; fi
    # A name from a variable (bench/: foreach(part ...) add_subdirectory(${part})): every
    # subfolder with a CMakeLists.txt may be meant.
    if [[ "$sub" == *'${'* ]]; then
      for d in "$repo/${sub%%/\$\{*}"/*/CMakeLists.txt; do
        [ ! -f "$d" ] || build_dirs "$(realpath --relative-to="$repo" "$(dirname "$d")")"
      done
      continue
    fi
    if [ ! -f "$repo/$sub/CMakeLists.txt" ]; then
      fail "$dir/CMakeLists.txt adds $sub, which has no CMakeLists.txt"
      continue
    fi
    build_dirs "$sub"
  done
}
mapfile -t dirs < <(build_dirs .)
# Every file the build may read: the root CMakeLists.txt and each added folder's whole tree
# (sources, headers, test data, embedded assets), not the npm installs of a developer's machine.
mapfile -t files < <(cd "$repo" && {
  echo CMakeLists.txt
  find "${dirs[@]:1}" -name node_modules -prune -o -type f -print
} | sort -u)
[ "${#dirs[@]}" -gt 1 ] || fail "the root CMakeLists.txt adds no folder"

for dockerfile in "$repo"/deploy/docker/*.Dockerfile; do
  name="$(basename "$dockerfile")"
  ignore="$dockerfile.dockerignore"
  if [ ! -f "$ignore" ]; then
    fail "$name has no $name.dockerignore: the whole repository (.git, build trees) would be sent"
    continue
  fi
  load_ignore "$ignore"
  failures_before=$failures
  left_out=0
  while IFS= read -r f; do
    [ $left_out -ge 5 ] || fail "$name.dockerignore leaves out $f, which the build reads"
    left_out=$((left_out + 1))
  done < <(printf '%s\n' "${files[@]}" | excluded_paths)
  [ $left_out -le 5 ] || fail "$name.dockerignore leaves out $((left_out - 5)) more such files"
  # The sources of each COPY from the build context (not --from=<stage>), continuation lines joined.
  copies=0
  while read -r -a words; do
    [ "${words[0]:-}" = COPY ] || continue
    srcs=()
    for w in "${words[@]:1}"; do [[ "$w" == --* ]] || srcs+=("$w"); done
    [[ " ${words[*]} " != *" --from="* ]] || continue
    for src in "${srcs[@]:0:${#srcs[@]}-1}"; do
      src="${src#./}"
      src="${src%/}"
      copies=$((copies + 1))
      if [ "$src" = . ] || [ -z "$src" ]; then
        excluded CMakeLists.txt && fail "$name copies the context, and its ignore file leaves out CMakeLists.txt"
        continue
      fi
      [ -e "$repo/$src" ] || fail "$name copies $src, which is not in the repository"
      excluded "$src" && fail "$name copies $src, which $name.dockerignore leaves out"
    done
  done < <(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$dockerfile" | grep -v '^[[:space:]]*#')
  [ $copies -gt 0 ] || fail "$name copies nothing from the build context"
  [ $failures -eq "$failures_before" ] || continue
  echo "$name: the ${#files[@]} files of the ${#dirs[@]} folders the build adds, and its $copies COPY sources, are in the context"
done

if [ $failures -gt 0 ]; then
  echo "check-ignore-files: $failures failures" >&2
  exit 1
fi
