#!/usr/bin/env bash
# A quick A/B of two builds of pixq-bench-pipeline on the same JPEGs (fit within 800x800, JPEG
# output, one thread), run alternately so that a busy machine weighs on both alike: the median
# total, decode and resize of each, per file, and the DCT scale each chose. Not the benchmark
# (bench/pipeline/run.sh is): a check that a change to the decode path does not slow it.
#
# Usage: bench/pipeline/before_after.sh BEFORE_BIN AFTER_BIN [ROUNDS] [FILE...]
#   BEFORE_BIN, AFTER_BIN  two pixq-bench-pipeline binaries (e.g. one built from main)
#   ROUNDS                 alternations (default 3), each PIXQ_REPEATS (5) timed runs
#   FILE...                default: the four 13-20 MP photographs bench/pipeline/run.sh takes
#                          from Debian's lomiri-wallpapers (in /usr/share/backgrounds)
set -euo pipefail
before="$1"
after="$2"
rounds="${3:-3}"
shift 2
[ $# -gt 0 ] && shift
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  for name in Dragonfly_by_Bolly Infinite-Sea_by_Aury88 Kleiber_by_Lukas_Baubkus \
    seeding_by_Clements_Engelhardt; do
    files+=("/usr/share/backgrounds/$name.jpg")
  done
fi
repeats="${PIXQ_REPEATS:-5}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for ((round = 0; round < rounds; round++)); do
  for side in before after; do
    bin="$before"
    [ "$side" = after ] && bin="$after"
    "$bin" measure --box 800 --warmup 1 --repeats "$repeats" --formats jpeg "${files[@]}" \
      >>"$out/$side.jsonl"
  done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$out" <<'PY'
import json, statistics, sys, collections
rows = collections.defaultdict(list)
for side in ("before", "after"):
    for line in open(f"{sys.argv[1]}/{side}.jsonl"):
        r = json.loads(line)
        rows[(r["name"], side)].append(r)
names = sorted({name for name, _ in rows})
print(f"{'file':40} {'side':6} {'scale':>5} {'total ms':>9} {'decode ms':>10} {'resize ms':>10}")
for name in names:
    for side in ("before", "after"):
        rs = rows[(name, side)]
        med = lambda k: statistics.median(r[k] for r in rs)
        print(f"{name:40} {side:6} {rs[0]['decode_scale']:>5} {med('median_ms'):9.1f} "
              f"{med('decode_median_ms'):10.1f} {med('resize_median_ms'):10.1f}")
PY
