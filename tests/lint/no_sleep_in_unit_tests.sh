#!/usr/bin/env bash
# Fails when a unit test calls sleep_for / SleepFor / usleep / sleep(: unit tests wait for what
# they expect, or move a FakeClock (tests/fakes/fake_clock.h); only tests labelled "integration"
# (real processes) may wait in real time. See tests/lint/CMakeLists.txt for how the unit tests'
# sources are found.
#
# Usage: no_sleep_in_unit_tests.sh BUILD_DIR MANIFEST SOURCE_DIR
set -euo pipefail
build_dir=$1
manifest=$2
source_dir=$3

# What counts as a sleep, in code (comments are stripped first): the calls, and
# tests/support/process.h's Eventually, which polls with a sleep (for real processes).
readonly pattern='(^|[^A-Za-z0-9_])(sleep_for|SleepFor|usleep|sleep[[:space:]]*\(|Eventually[[:space:]]*\()'

# Code of a C++ file without its // comments.
code_of() { sed -e 's://.*$::' "$1"; }

# The pattern must catch each form, and nothing in a comment: a guard that matches nothing would
# pass for ever.
self_test() {
  local sample
  sample=$(mktemp)
  trap 'rm -f "$sample"' RETURN
  local line
  for line in 'std::this_thread::sleep_for(std::chrono::milliseconds(5));' 'absl::SleepFor(absl::Seconds(1));' \
    'clock_.SleepFor(d);' 'usleep(1000);' '::sleep(1);' 'sleep (1);' \
    'ASSERT_TRUE(testing::Eventually([&] { return done; }, absl::Seconds(5)));'; do
    printf '%s\n' "$line" >"$sample"
    if ! code_of "$sample" | grep -qE "$pattern"; then
      echo "self-test: the pattern misses: $line" >&2
      return 1
    fi
  done
  for line in '// no sleep_for here' 'clock_.AwaitWaiters(1);' 'const char* kCmd = "exec sleep 60";' \
    'SleepUntil(deadline);'; do
    printf '%s\n' "$line" >"$sample"
    if code_of "$sample" | grep -qE "$pattern"; then
      echo "self-test: the pattern wrongly matches: $line" >&2
      return 1
    fi
  done
}
self_test

[[ -s $manifest ]] || { echo "no manifest of executables at $manifest" >&2; exit 1; }

# The executables of tests without the label "integration".
json=$(ctest --test-dir "$build_dir" --show-only=json-v1)
mapfile -t unit_executables < <(jq -r '
  .tests[]
  | select(.command != null)
  | select(([.properties[]? | select(.name == "LABELS") | .value[]] | index("integration")) | not)
  | .command[0]' <<<"$json" | sort -u)

# A unit test's files: its sources, and the headers under tests/ they include, transitively,
# except tests/support/: the integration tests' support, whose waits on real processes count
# where a test calls them (Eventually, above).
declare -A seen=()
files=()
add_file() {
  local file=$1
  [[ -f $file && -z ${seen[$file]:-} ]] || return 0
  [[ $file == "$source_dir"/tests/support/* ]] && return 0
  seen[$file]=1
  files+=("$file")
  local header
  while IFS= read -r header; do
    add_file "$source_dir/$header"
  done < <(grep -oE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"tests/[^"]+"' "$file" |
    sed -E 's/.*"(tests\/[^"]+)"/\1/')
}

binaries=0
while IFS=$'\t' read -r -a fields; do
  executable=${fields[0]}
  printf '%s\n' "${unit_executables[@]}" | grep -qxF "$executable" || continue
  binaries=$((binaries + 1))
  target_dir=${fields[1]}
  for source in "${fields[@]:2}"; do
    [[ $source == /* ]] || source="$target_dir/$source"
    case $source in *.cc | *.cpp | *.h | *.hpp) add_file "$source" ;; esac
  done
done <"$manifest"

if ((binaries == 0)); then
  echo "no unit test binary found (are the tests built?)" >&2
  exit 1
fi

status=0
for file in "${files[@]}"; do
  if hits=$(code_of "$file" | grep -nE "$pattern"); then
    while IFS= read -r hit; do
      echo "${file#"$source_dir"/}:$hit: a unit test sleeps; wait for the event, move a FakeClock, or label the test integration" >&2
    done <<<"$hits"
    status=1
  fi
done
echo "checked ${#files[@]} files of $binaries unit test binaries"
exit $status
