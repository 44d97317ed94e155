#!/usr/bin/env bash
# Builds and starts the whole system locally: the local Kafka (pixq-devbroker), pixq-api on port
# 8080 and two pixq-worker processes, with data under ./var/pixq (the broker's topics in
# var/pixq/broker, restored at the next start). Ctrl-C stops every process it started.
# Environment: PIXQ_HTTP_PORT (8080), PIXQ_WORKERS (2), PIXQ_PARTITIONS (4),
# PIXQ_SWEEP_INTERVAL_S (3600: how often the expiry sweep runs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build >/dev/null

export PIXQ_STORAGE_ROOT="${PIXQ_STORAGE_ROOT:-$PWD/var/pixq}"
export PIXQ_KAFKA_BOOTSTRAP_FILE="$PIXQ_STORAGE_ROOT/kafka.bootstrap"
export PIXQ_HTTP_PORT="${PIXQ_HTTP_PORT:-8080}"
WORKERS="${PIXQ_WORKERS:-2}"
PARTITIONS="${PIXQ_PARTITIONS:-4}"
LOGS="$PIXQ_STORAGE_ROOT/logs"
mkdir -p "$LOGS"
rm -f "$PIXQ_KAFKA_BOOTSTRAP_FILE"

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "stopping ${#pids[@]} processes"
  # Workers first (they commit and leave the group), then the API, then the broker.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  exit 0
}
trap stop INT TERM EXIT

build/cmd/devbroker/pixq-devbroker --partitions "$PARTITIONS" \
  --bootstrap-file "$PIXQ_KAFKA_BOOTSTRAP_FILE" --data-dir "$PIXQ_STORAGE_ROOT/broker" \
  >>"$LOGS/devbroker.log" 2>&1 &
pids+=($!)
# The bootstrap file appears once the stored topics are restored: allow a minute for a big backlog.
for _ in $(seq 600); do [ -s "$PIXQ_KAFKA_BOOTSTRAP_FILE" ] && break; sleep 0.1; done
[ -s "$PIXQ_KAFKA_BOOTSTRAP_FILE" ] || { echo "the local Kafka did not start; see $LOGS/devbroker.log"; exit 1; }

PIXQ_HTTP_ADDRESS=127.0.0.1 build/cmd/api/pixq-api >"$LOGS/api.log" 2>&1 &
pids+=($!)
for i in $(seq "$WORKERS"); do
  PIXQ_WORKER_NAME="worker-$i" PIXQ_WORKER_PORT=$((9090 + i)) build/cmd/worker/pixq-worker \
    >"$LOGS/worker-$i.log" 2>&1 &
  pids+=($!)
done

# The expiry sweep (retention.*), as the chart's CronJob runs it: hourly unless told otherwise.
SWEEP_EVERY="${PIXQ_SWEEP_INTERVAL_S:-3600}"
# The loop sleeps in a child it waits for, so that stopping the loop stops its sleep too (a plain
# `while sleep` left `sleep 3600` running after Ctrl-C).
(
  trap 'kill "$nap" 2>/dev/null; exit 0' TERM
  while :; do
    sleep "$SWEEP_EVERY" &
    nap=$!
    wait "$nap"
    build/cmd/worker/pixq-worker sweep
  done
) >>"$LOGS/sweep.log" 2>&1 &
pids+=($!)

URL="http://127.0.0.1:$PIXQ_HTTP_PORT"
for _ in $(seq 300); do curl -fs "$URL/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "$URL/readyz" >/dev/null || { echo "pixq-api is not ready; see $LOGS/api.log"; exit 1; }

PHOTO=/usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg
cat <<MSG
pixq is running at $URL  (Kafka $(cat "$PIXQ_KAFKA_BOOTSTRAP_FILE"), data in $PIXQ_STORAGE_ROOT, logs in $LOGS)

Try it:
  IMAGE=\$(curl -s -F image=@$PHOTO -F title=Kleiber $URL/v1/images | sed -E 's/.*"id":"([0-9a-f]+)".*/\1/')
  JOB=\$(curl -s -H 'Content-Type: application/json' $URL/v1/jobs -d '{"source":{"imageId":"'\$IMAGE'"},"steps":[{"op":"resize","width":800,"height":800},{"op":"grayscale"}],"output":{"format":"webp","quality":80}}' | sed -E 's/.*"id":"(j_[0-9A-Z]+)".*/\1/')
  curl -s "$URL/v1/jobs/\$JOB?wait=10s"
  curl -s -o out.webp "$URL/v1/jobs/\$JOB/output"

Press Ctrl-C to stop everything.
MSG
wait -n "${pids[@]}" || true
echo "a process exited; see $LOGS"
