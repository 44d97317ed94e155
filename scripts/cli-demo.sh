#!/usr/bin/env bash
# Runs the pixq CLI against a local system of its own (pixq-devbroker, pixq-api on a free port,
# two workers, data in a temporary directory) and prints each command with its real output, as
# docs/cli.md shows them. Usage: scripts/cli-demo.sh [build-dir]   (default: build)
# The photos are Debian's wallpapers (/usr/share/backgrounds, from scripts/setup.sh's packages).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="$(realpath "${1:-build}")"
WORK="$(mktemp -d)"
pids=()
stop() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap stop EXIT

export PIXQ_STORAGE_ROOT="$WORK/volume"
export PIXQ_KAFKA_BOOTSTRAP_FILE="$WORK/kafka.bootstrap"
export PIXQ_HTTP_ADDRESS=127.0.0.1 PIXQ_HTTP_PORT=0 PIXQ_LOG_LEVEL=warn
# The workers may download from the demo's own web server on loopback (a URL import).
export PIXQ_FETCH_ALLOW=127.0.0.1
site_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p "$PIXQ_STORAGE_ROOT"
"$BUILD/cmd/devbroker/pixq-devbroker" --partitions 4 --bootstrap-file "$PIXQ_KAFKA_BOOTSTRAP_FILE" \
  --data-dir "$WORK/broker" >"$WORK/devbroker.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do [ -s "$PIXQ_KAFKA_BOOTSTRAP_FILE" ] && break; sleep 0.1; done
PIXQ_LOG_LEVEL=info "$BUILD/cmd/api/pixq-api" >"$WORK/api.log" 2>&1 &
pids+=($!)
for w in 1 2; do
  PIXQ_WORKER_NAME="worker-$w" PIXQ_WORKER_ADDRESS=127.0.0.1 PIXQ_WORKER_PORT=0 "$BUILD/cmd/worker/pixq-worker" >"$WORK/worker-$w.log" 2>&1 &
  pids+=($!)
done
port=""
for _ in $(seq 300); do
  port="$(grep -o '"message":"pixq-api listening"[^}]*"port":[0-9]*' "$WORK/api.log" | grep -o '[0-9]*$' || true)"
  [ -n "$port" ] && curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.1
done
export PIXQ_URL="http://127.0.0.1:$port"

# The demo folder: Debian's wallpapers, one of them cut short, and a stray text file.
cd "$WORK"
mkdir -p photos
cp /usr/share/backgrounds/*.jpg photos/
head -c 200000 photos/Wine_by_Jakkub_Mede.jpg >photos/cut-short.jpg
echo "shopping list" >photos/notes.txt
echo "shopping list" >notes.txt
PATH="$BUILD/cmd/pixq:$PATH"

show() {
  echo "\$ $*"
  "$@" 2>&1 || echo "(exit status $?)"
  echo
}
show pixq process photos --resize 800x800 --format webp --quality 80 --out out
show ls out
show pixq process photos --resize 800x800 --format webp --quality 80 --out out

# A job that fails in a worker: a URL import from a site that does not have the photo yet.
mkdir -p site
python3 -m http.server --bind 127.0.0.1 --directory site "$site_port" >"$WORK/site.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -s "http://127.0.0.1:$site_port/" >/dev/null && break; sleep 0.1; done
job="$(curl -s "$PIXQ_URL/v1/jobs" -H 'Content-Type: application/json' \
  -d '{"source":{"url":"http://127.0.0.1:'"$site_port"'/kleiber.jpg"},"steps":[{"op":"grayscale"}],"output":{"format":"png"}}' |
  grep -o '"id":"j_[^"]*"' | head -1 | cut -d'"' -f4)"
curl -s "$PIXQ_URL/v1/jobs/$job?wait=30s&until=done" >/dev/null
show pixq jobs --phase Failed
cp /usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg site/kleiber.jpg
show pixq retry "$job"
show pixq watch "$job"
show pixq get "$job" -o kleiber-gray.png
show pixq upload /usr/share/backgrounds/Fossa_by_Jasper_Roks.jpg notes.txt
