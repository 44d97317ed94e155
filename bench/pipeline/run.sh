#!/usr/bin/env bash
# Issue 7, target 1 ("per image"): pixq's pipeline against vipsthumbnail and the libjpeg-turbo
# decode floor, on Debian's real photographs, fitted within 800×800, one thread, in one
# long-running process. Writes pipeline.md and pipeline.json to bench/results (or --out DIR);
# every figure in them comes from this run.
#
# Usage: bench/pipeline/run.sh [--smoke] [--out DIR] [--build DIR | --bin PATH] [--worker PATH]
#   --smoke   one repeat of everything over two files (one JPEG and the PNG made from it)
#   --out     where to write pipeline.md and pipeline.json (default: bench/results)
#   --build   the build directory holding bench/pipeline/pixq-bench-pipeline and
#             cmd/worker/pixq-worker (default: build)
#   --bin     pixq-bench-pipeline itself (pixq-worker then from the same build directory)
#   --worker  pixq-worker itself
# Settings, from the environment: PIXQ_WARMUP (2) and PIXQ_REPEATS (15) runs of pixq per file and
# output; VIPS_IN_PROCESS (5): k, the extra listings of the file in one vipsthumbnail process;
# HYPERFINE_RUNS (5) and HYPERFINE_WARMUP (1) for each vipsthumbnail command; TJ_BENCHTIME (2)
# and TJ_WARMUP (1) seconds for tjbench; MIN_MP (12.5) and MAX_MP (20.5): the JPEGs taken, i.e.
# those of 13 to 20 megapixels, rounded.
#
# Method, per file and output format:
# - pixq: pixq-bench-pipeline measure runs imaging::Pipeline::Run on the file's bytes in memory
#   with SetOpenCvThreads(1): PIXQ_WARMUP untimed runs, then PIXQ_REPEATS timed ones.
# - pixq via the codec process: the same (JPEG output) through isolate::CodecPool and one
#   `pixq-worker codec` child, the path a worker's jobs take: the bytes cross a Unix socket each
#   way. The child is started before the timings; it runs OpenCV on one thread, as the worker's
#   children do by default (PIXQ_CONFIG and PIXQ_WORKER_CONCURRENCY are cleared for it). The target
#   is judged on the in-process figure; the report states this one and its overhead beside it.
# - vipsthumbnail, VIPS_CONCURRENCY=1: hyperfine times one process given the file once (T1) and
#   one given it k + 1 times (Tk+1), through distinct symbolic links so that nothing can be reused
#   by name; per image = (median Tk+1 - median T1) / k. Process start-up (libvips loads its
#   modules) and the first image's extra costs appear in both and cancel, leaving k images in a
#   warm process. The outputs go to a temporary directory; vipsthumbnail reads the
#   file through the page cache, pixq from memory.
# - tjbench FILE -scale 1/N, N the scale pixq chose (JPEGs only): decompression alone, to BGR,
#   libjpeg-turbo's default (accurate) IDCT and upsampling, as OpenCV asks for. 1000 / frame rate.
# - The large PNG is made at run time from the largest JPEG (in --smoke, from the one JPEG) by
#   ImageMagick (/usr/bin/convert, 8-bit RGB, metadata stripped, its default compression; zlib's
#   fastest in --smoke) into the temporary directory.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
smoke=0
out="$repo/bench/results"
bin="$repo/build/bench/pipeline/pixq-bench-pipeline"
worker=""
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --out) out="$2"; shift ;;
    --build) bin="$2/bench/pipeline/pixq-bench-pipeline"; shift ;;
    --bin) bin="$2"; shift ;;
    --worker) worker="$2"; shift ;;
    *)
      echo "usage: $0 [--smoke] [--out DIR] [--build DIR | --bin PATH] [--worker PATH]" >&2
      exit 2
      ;;
  esac
  shift
done
# pixq-worker from the build directory that holds pixq-bench-pipeline.
if [ -z "$worker" ]; then worker="$(dirname "$bin")/../../cmd/worker/pixq-worker"; fi

BOX=800
PIXQ_WARMUP="${PIXQ_WARMUP:-2}"
PIXQ_REPEATS="${PIXQ_REPEATS:-15}"
VIPS_IN_PROCESS="${VIPS_IN_PROCESS:-5}"
HYPERFINE_RUNS="${HYPERFINE_RUNS:-5}"
HYPERFINE_WARMUP="${HYPERFINE_WARMUP:-1}"
TJ_BENCHTIME="${TJ_BENCHTIME:-2}"
TJ_WARMUP="${TJ_WARMUP:-1}"
MIN_MP="${MIN_MP:-12.5}"
MAX_MP="${MAX_MP:-20.5}"
if [ "$smoke" = 1 ]; then
  PIXQ_WARMUP=0 PIXQ_REPEATS=1 VIPS_IN_PROCESS=1 HYPERFINE_RUNS=1 HYPERFINE_WARMUP=0
  TJ_BENCHTIME=0.1 TJ_WARMUP=0.05
fi
PACKAGES=(lomiri-wallpapers lomiri-wallpapers-16.04 lomiri-wallpapers-20.04)
# vipsthumbnail's output suffixes; pixq's outputs carry no metadata either, hence strip.
declare -A VIPS_SUFFIX=([jpeg]='.jpg[Q=85,strip]' [webp]='.webp[Q=80,strip]' [png]='.png[strip]')
# ImageMagick: Debian's, by path (the convert first on PATH may be a stand-in).
IMAGEMAGICK=/usr/bin/convert
IDENTIFY=/usr/bin/identify

die() { echo "run.sh: $*" >&2; exit 1; }
for tool in vipsthumbnail vipsheader tjbench hyperfine dpkg-query; do
  command -v "$tool" >/dev/null || die "$tool is missing; run scripts/setup.sh --bench"
done
for tool in "$IMAGEMAGICK" "$IDENTIFY"; do
  [ -x "$tool" ] || die "$tool is missing; run scripts/setup.sh"
done
[ -x "$bin" ] || die "$bin is missing; build it (scripts/build.sh) or pass --bin"
[ -x "$worker" ] || die "$worker is missing; build it (scripts/build.sh) or pass --worker"
worker="$(cd "$(dirname "$worker")" && pwd)/$(basename "$worker")"

json_str() {
  local s="${1//\\/\\\\}"
  s="${s//\"/\\\"}"
  printf '"%s"' "$s"
}
load() { cut -d' ' -f1-3 /proc/loadavg; }

work="$(mktemp -d "${TMPDIR:-/tmp}/pixq-bench-pipeline.XXXXXX")"
trap 'rm -rf "$work"' EXIT
load_before="$(load)"

# 1. The photographs: every JPEG of 13-20 MP in the three packages, smallest first.
candidates=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
    die "$pkg is not installed; run scripts/setup.sh --bench"
  mapfile -t jpegs < <(dpkg -L "$pkg" | grep -iE '\.jpe?g$')
  [ ${#jpegs[@]} -gt 0 ] || continue
  # Dimensions from the headers, in one call (a process per file costs seconds in all).
  while read -r w h f; do
    if awk -v p="$((w * h))" -v lo="$MIN_MP" -v hi="$MAX_MP" \
      'BEGIN { exit !(p >= lo * 1e6 && p < hi * 1e6) }'; then
      candidates+=("$((w * h)) $pkg $f")
    fi
  done < <("$IDENTIFY" -ping -format '%w %h %i\n' "${jpegs[@]}")
done
[ ${#candidates[@]} -gt 0 ] || die "no 13-20 MP JPEG in ${PACKAGES[*]}"
mapfile -t candidates < <(printf '%s\n' "${candidates[@]}" | sort -n)
if [ "$smoke" = 1 ]; then candidates=("${candidates[0]}"); fi

: >"$work/files.jsonl"
paths=()
for c in "${candidates[@]}"; do
  read -r _ pkg f <<<"$c"
  paths+=("$f")
  printf '{"name":%s,"path":%s,"package":%s,"note":""}\n' "$(json_str "$(basename "$f")")" \
    "$(json_str "$f")" "$(json_str "$pkg")" >>"$work/files.jsonl"
done
read -r _ png_pkg png_src <<<"${candidates[-1]}"
png="$work/$(basename "${png_src%.*}").png"
# ImageMagick's default compression; --smoke asks for zlib's fastest, to stay quick.
png_options=()
if [ "$smoke" = 1 ]; then png_options=(-define png:compression-level=1); fi
"$IMAGEMAGICK" "$png_src" -auto-orient -strip "${png_options[@]}" "PNG24:$png"
paths+=("$png")
printf '{"name":%s,"path":%s,"package":%s,"note":%s}\n' "$(json_str "$(basename "$png")")" \
  "$(json_str "$png")" "$(json_str "$png_pkg")" \
  "$(json_str "made at run time from $(basename "$png_src") by ImageMagick")" \
  >>"$work/files.jsonl"
echo "run.sh: [${SECONDS}s] ${#paths[@]} images: ${paths[*]##*/}" >&2

# 2. pixq.
echo "run.sh: [${SECONDS}s] pixq (${PIXQ_WARMUP} warm-up, ${PIXQ_REPEATS} timed runs each)" >&2
"$bin" measure --box "$BOX" --warmup "$PIXQ_WARMUP" --repeats "$PIXQ_REPEATS" \
  --formats jpeg,webp,png "${paths[@]}" >"$work/pixq.jsonl"
echo "run.sh: [${SECONDS}s] pixq via the codec process (${worker##*/} codec, JPEG output)" >&2
# Appended to the same file; each row names its engine.
env -u PIXQ_CONFIG -u PIXQ_WORKER_CONCURRENCY "$bin" measure --box "$BOX" \
  --warmup "$PIXQ_WARMUP" --repeats "$PIXQ_REPEATS" --formats jpeg --codec "$worker" \
  "${paths[@]}" >>"$work/pixq.jsonl"

# The decode scale pixq chose for a file (its in-process JPEG-output row).
pixq_scale() {
  grep -F "\"name\":$(json_str "$1")" "$work/pixq.jsonl" | grep -F '"engine":"in-process"' |
    grep -F '"format":"jpeg"' | sed -n 's/.*"decode_scale":\([0-9]*\).*/\1/p' | head -n 1
}

# 3. vipsthumbnail.
echo "run.sh: [${SECONDS}s] vipsthumbnail (k=${VIPS_IN_PROCESS}, ${HYPERFINE_RUNS} runs each)" >&2
export VIPS_CONCURRENCY=1
: >"$work/vips.jsonl"
i=0
for f in "${paths[@]}"; do
  i=$((i + 1))
  name="$(basename "$f")"
  ext="${f##*.}"
  links=()
  mkdir -p "$work/links/$i"
  for j in $(seq 0 "$VIPS_IN_PROCESS"); do
    ln -s "$f" "$work/links/$i/$j.$ext"
    links+=("$work/links/$i/$j.$ext")
  done
  # The shrink-on-load vipsthumbnail chose for a JPEG (untimed; VIPS_INFO logs it).
  preshrink=""
  if [ "$ext" != png ]; then
    mkdir -p "$work/info"
    preshrink="$(VIPS_INFO=1 vipsthumbnail "${links[0]}" -s "${BOX}x${BOX}" \
      -o "$work/info/%s.jpg" 2>&1 |
      sed -n 's/.*loading with factor \([0-9]*\) pre-shrink.*/\1/p' | head -n 1)"
  fi
  for format in jpeg webp png; do
    dir="$work/vips/$i/$format"
    mkdir -p "$dir"
    target="$dir/%s${VIPS_SUFFIX[$format]}"
    hyperfine -N --style none --runs "$HYPERFINE_RUNS" --warmup "$HYPERFINE_WARMUP" \
      --export-json "$dir/once.json" \
      "vipsthumbnail ${links[0]} -s ${BOX}x${BOX} -o $target" >/dev/null
    hyperfine -N --style none --runs "$HYPERFINE_RUNS" --warmup "$HYPERFINE_WARMUP" \
      --export-json "$dir/many.json" \
      "vipsthumbnail ${links[*]} -s ${BOX}x${BOX} -o $target" >/dev/null
    output="$(find "$dir" -name '0.*' -not -name '*.json' | head -n 1)"
    [ -n "$output" ] || die "vipsthumbnail wrote nothing for $name as $format"
    printf '{"name":%s,"format":"%s","options":%s,"in_process":%d,"once":%s,"many":%s,' \
      "$(json_str "$name")" "$format" "$(json_str "${VIPS_SUFFIX[$format]}")" \
      "$VIPS_IN_PROCESS" "$(json_str "$dir/once.json")" "$(json_str "$dir/many.json")" \
      >>"$work/vips.jsonl"
    printf '"preshrink":%s,"out_width":%d,"out_height":%d,"out_bytes":%d}\n' \
      "${preshrink:-null}" "$(vipsheader -f width "$output")" \
      "$(vipsheader -f height "$output")" "$(stat -c %s "$output")" >>"$work/vips.jsonl"
  done
done

# 4. The libjpeg-turbo decode floor at pixq's scale.
echo "run.sh: [${SECONDS}s] tjbench" >&2
: >"$work/tjbench.jsonl"
for f in "${paths[@]}"; do
  case "$f" in *.jpg | *.jpeg | *.JPG | *.JPEG) ;; *) continue ;; esac
  name="$(basename "$f")"
  scale="$(pixq_scale "$name")"
  [ -n "$scale" ] || die "no decode scale from pixq for $name"
  fps="$(cd "$work" && tjbench "$f" -scale "1/$scale" -benchtime "$TJ_BENCHTIME" \
    -warmup "$TJ_WARMUP" -nowrite | sed -n 's/.*Decompress.*Frame rate: *\([0-9.]*\) fps.*/\1/p' |
    head -n 1)"
  [ -n "$fps" ] || die "tjbench gave no frame rate for $name"
  printf '{"name":%s,"scale":%d,"fps":%s}\n' "$(json_str "$name")" "$scale" "$fps" \
    >>"$work/tjbench.jsonl"
done

# 5. The report.
commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
# Read-only: GIT_OPTIONAL_LOCKS=0 keeps git status from refreshing the index.
changes="$(GIT_OPTIONAL_LOCKS=0 git -C "$repo" status --porcelain --untracked-files=no \
  2>/dev/null || true)"
if [ -n "$changes" ]; then commit="$commit (with uncommitted changes)"; fi
mode=full
if [ "$smoke" = 1 ]; then mode="smoke: one run of each, figures meaningless"; fi
cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
opencv="$(pkg-config --modversion opencv4 2>/dev/null || echo '?')"
turbo="$(dpkg-query -W -f='${Version}' libjpeg62-turbo 2>/dev/null || echo '?')"
vips="$(vipsthumbnail --version)"
hf="$(hyperfine --version | sed 's/^hyperfine //')"
{
  printf '{"date":%s,"mode":%s,' "$(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)")" \
    "$(json_str "$mode")"
  printf '"cpu":%s,"cpus":%d,' "$(json_str "$cpu")" "$(nproc)"
  printf '"load_before":%s,"load_after":%s,' "$(json_str "$load_before")" "$(json_str "$(load)")"
  printf '"pixq_commit":%s,"opencv":%s,"libjpeg_turbo":%s,"vips":%s,"hyperfine":%s,' \
    "$(json_str "$commit")" "$(json_str "$opencv")" "$(json_str "$turbo")" "$(json_str "$vips")" \
    "$(json_str "$hf")"
  printf '"box":%d,"pixq_warmup":%d,"pixq_repeats":%d,"vips_in_process":%d,' \
    "$BOX" "$PIXQ_WARMUP" "$PIXQ_REPEATS" "$VIPS_IN_PROCESS"
  printf '"hyperfine_runs":%d,"hyperfine_warmup":%d,' "$HYPERFINE_RUNS" "$HYPERFINE_WARMUP"
  printf '"vips_jpeg":%s,"vips_webp":%s,"vips_png":%s,' \
    "$(json_str "vipsthumbnail -s ${BOX}x${BOX} -o %s${VIPS_SUFFIX[jpeg]}")" \
    "$(json_str "%s${VIPS_SUFFIX[webp]}")" "$(json_str "%s${VIPS_SUFFIX[png]}")"
  printf '"tjbench_options":%s,"megapixels_range":[%s,%s]}\n' \
    "$(json_str "-benchtime $TJ_BENCHTIME -warmup $TJ_WARMUP -nowrite")" "$MIN_MP" "$MAX_MP"
} >"$work/meta.json"

mkdir -p "$out"
"$bin" report --files "$work/files.jsonl" --pixq "$work/pixq.jsonl" --vips "$work/vips.jsonl" \
  --tjbench "$work/tjbench.jsonl" --meta "$work/meta.json" --json "$out/pipeline.json" \
  --md "$out/pipeline.md"
echo "run.sh: [${SECONDS}s] wrote $out/pipeline.md and $out/pipeline.json" >&2
