#!/usr/bin/env bash
# Issue 18: one HEIC fitted within 800x800 to JPEG, pixq's pipeline against vipsthumbnail (which
# decodes with the same libheif). Not part of bench/pipeline/run.sh's report yet: it prints its
# figures, for the issue's note.
#
# Usage: bench/pipeline/heif.sh [--build DIR] [PHOTO]
#   PHOTO: a JPEG to make the HEIC from (default: Debian's Kleiber_by_Lukas_Baubkus.jpg, one of
#   the photographs run.sh takes), by heif-enc at quality 80, into a temporary directory.
# Settings, from the environment: PIXQ_WARMUP (2), PIXQ_REPEATS (10), VIPS_IN_PROCESS (3),
# HYPERFINE_RUNS (5), with the meanings bench/pipeline/run.sh gives them.
#
# Method (run.sh's, for one file): pixq-bench-pipeline measure times imaging::Pipeline::Run on the
# bytes in memory, one OpenCV thread (libheif told to decode tiles on the calling thread, since the
# pipeline passes it OpenCV's thread count). vipsthumbnail, VIPS_CONCURRENCY=1: hyperfine times one
# process given the file once (T1) and one given it k + 1 times through distinct links (Tk+1);
# per image = (median Tk+1 - median T1) / k. libde265 may still start threads of its own in both.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=build
if [ "${1:-}" = "--build" ]; then BUILD="$2"; shift 2; fi
PHOTO="${1:-/usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg}"
WARMUP="${PIXQ_WARMUP:-2}"
REPEATS="${PIXQ_REPEATS:-10}"
K="${VIPS_IN_PROCESS:-3}"
RUNS="${HYPERFINE_RUNS:-5}"
BENCH="$BUILD/bench/pipeline/pixq-bench-pipeline"
for tool in heif-enc vipsthumbnail hyperfine jq "$BENCH"; do
  command -v "$tool" >/dev/null || { echo "heif.sh: $tool is missing" >&2; exit 1; }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

heif-enc -q 80 -o "$work/photo.heic" "$PHOTO" >/dev/null
size="$(vipsheader -f width "$work/photo.heic")x$(vipsheader -f height "$work/photo.heic")"
echo "HEIC: $(basename "$PHOTO") at $size, $(($(stat -c %s "$work/photo.heic") / 1024)) KiB (heif-enc -q 80, libheif $(dpkg-query -W -f='${Version}' libheif1))"

"$BENCH" measure --box 800 --warmup "$WARMUP" --repeats "$REPEATS" --formats jpeg \
  "$work/photo.heic" >"$work/pixq.json"
pixq_ms="$(jq -r '.median_ms * 10 | round / 10' "$work/pixq.json")"
decode_ms="$(jq -r '.decode_median_ms * 10 | round / 10' "$work/pixq.json")"

links=()
for i in $(seq 0 "$K"); do
  ln -s "$work/photo.heic" "$work/link$i.heic"
  links+=("$work/link$i.heic")
done
mkdir "$work/out"
export VIPS_CONCURRENCY=1
hyperfine --style none --runs "$RUNS" --warmup 1 --export-json "$work/vips.json" \
  "vipsthumbnail -s 800x800 -o $work/out/%s.jpg[strip] ${links[0]}" \
  "vipsthumbnail -s 800x800 -o $work/out/%s.jpg[strip] ${links[*]}" >/dev/null
t1="$(jq '.results[0].median' "$work/vips.json")"
tk="$(jq '.results[1].median' "$work/vips.json")"
vips_ms="$(awk -v a="$t1" -v b="$tk" -v k="$K" 'BEGIN { printf "%.1f", (b - a) / k * 1000 }')"
ratio="$(awk -v p="$pixq_ms" -v v="$vips_ms" 'BEGIN { printf "%.2f", p / v }')"
echo "pixq, fit within 800x800 to JPEG: median ${pixq_ms} ms of ${REPEATS} (decode ${decode_ms} ms)"
echo "vipsthumbnail -s 800x800: ${vips_ms} ms per image ((T$((K + 1)) - T1) / $K over $RUNS runs each)"
echo "pixq / vipsthumbnail: ${ratio}x"
