#!/usr/bin/env bash
# DeleteImage's lookup of an image's jobs on a store of 100,000 job records (10 an image by
# default): the full scan it made before the job_image index against the index
# (pixq-bench-state-delete-image; no broker, the store is filled directly and removed after).
#
# Usage: bench/state/delete_image.sh [build-dir] [jobs] [images] [lookups]
#        (defaults: build 100000 10000 50). Prints the benchmark's JSON.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD="${1:-build}"
JOBS="${2:-100000}"
IMAGES="${3:-10000}"
LOOKUPS="${4:-50}"
WORK="$(mktemp -d /tmp/pixq-bench-delete-image-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
"$BUILD/bench/state/pixq-bench-state-delete-image" --jobs "$JOBS" --images "$IMAGES" \
  --lookups "$LOOKUPS" --dir "$WORK/store"
