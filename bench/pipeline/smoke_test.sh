#!/usr/bin/env bash
# ctest bench.pipeline_smoke: run.sh --smoke end to end, then check that pipeline.md and
# pipeline.json have a row for each of the two images, in-process and via the worker's codec
# process. Nothing about speed.
# Usage: smoke_test.sh PIXQ_BENCH_PIPELINE OUT_DIR [PIXQ_WORKER]
set -euo pipefail
bin="$1"
out="$2"
worker_args=()
if [ $# -ge 3 ]; then worker_args=(--worker "$3"); fi
rm -rf "$out"
"$(dirname "$0")/run.sh" --smoke --bin "$bin" --out "$out" "${worker_args[@]}"

md="$out/pipeline.md"
json="$out/pipeline.json"
fail() { echo "smoke_test: $*" >&2; cat "$md" >&2 || true; exit 1; }
[ -s "$md" ] || fail "no $md"
[ -s "$json" ] || fail "no $json"
# The JPEG-output table: one row per image (a JPEG and the PNG made from it), each with pixq's
# median (min) milliseconds and decode scale; the WebP/PNG table: two rows per image.
table() { sed -n "/^### $1/,/^### /p" "$md"; }
ms='[0-9.]+ \([0-9.]+\)'  # median (min)
# image | package | MP | coding | pixq scale | vips shrink | pixq ms | vips ms | pixq / vips |
# target | met | via codec process ms | codec / vips
row="^\| \`[^\`]+\` \| [^|]+ \| [0-9.]+ \| [a-zA-Z]+ \| (1/[1248]|none) \| [^|]+ \| $ms \|"
row+=" [-0-9.]+ \([-0-9.]+\) \| [^|]+ \| [^|]+ \| [^|]+ \| $ms \| [^|]+ \|"
jpeg_rows="$(table 'JPEG output' | grep -cE "$row" || true)"
[ "$jpeg_rows" = 2 ] || fail "expected 2 rows in the JPEG-output table, found $jpeg_rows"
# The codec-process table: one JPEG row per image, overhead computed, the same output bytes as
# in-process. image | output | source bytes | output bytes | in-process ms | codec process ms |
# overhead ms | overhead % | codec / vips | same output
num='-?[0-9.]+'
codec_row="^\| \`[^\`]+\` \| jpeg \| [0-9]+ \| [0-9]+ \| $ms \| $ms \|"
codec_row+=" $num \| $num \| [^|]+ \| yes \|"
codec_rows="$(table 'Via the worker' | grep -cE "$codec_row" || true)"
[ "$codec_rows" = 2 ] || fail "expected 2 rows in the codec-process table, found $codec_rows"
other_rows="$(table 'WebP' | grep -cE "^\| \`[^\`]+\` \| (webp|png) \| $ms \|" || true)"
[ "$other_rows" = 4 ] || fail "expected 4 rows in the WebP/PNG table, found $other_rows"
grep -q '\.png` | ' "$md" || fail "no row for the PNG"
grep -q '"images"' "$json" || fail "no images in $json"
[ "$(grep -c '"decode_scale"' "$json")" -ge 2 ] || fail "no decode scales in $json"
grep -q '"decode_ms"' "$json" || fail "no tjbench decode floor in $json"
[ "$(grep -c '"engine": "codec process"' "$json")" = 2 ] || fail "no codec-process rows in $json"
[ "$(grep -c '"codec_overhead_ms"' "$json")" = 2 ] || fail "no codec overheads in $json"
# One child served every run: none died on the way.
[ "$(grep -cE '"codec_children_started": 1,?$' "$json")" = 2 ] || fail "a codec child restarted"
echo "smoke_test: ok" >&2
