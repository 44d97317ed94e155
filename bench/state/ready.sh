#!/usr/bin/env bash
# A new API replica's time to ready with N job records kept: a full replay of pixq.job-status
# against a start from a snapshot plus a tail (pixq-bench-state-ready), on the local broker
# (pixq-devbroker, loopback, its data in a temporary directory removed at the end).
#
# Usage: bench/state/ready.sh [build-dir] [jobs] [tail]   (defaults: build 200000 1000)
# The local broker keeps at most 5 MiB a partition: 64 partitions hold 200,000 records of ~700
# bytes. Its last line of output is pixq-bench-state-ready's JSON (the lines before are its log).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD="${1:-build}"
JOBS="${2:-200000}"
TAIL="${3:-1000}"
WORK="$(mktemp -d /tmp/pixq-bench-ready-XXXXXX)"
BROKER_PID=""
cleanup() {
  if [ -n "$BROKER_PID" ]; then kill "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
"$BUILD/cmd/devbroker/pixq-devbroker" --partitions 64 --topic-prefix bench. \
  --bootstrap-file "$WORK/bootstrap" --data-dir "$WORK/broker" >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 1 300); do
  [ -s "$WORK/bootstrap" ] && break
  sleep 0.1
done
[ -s "$WORK/bootstrap" ] || { echo "ready.sh: the broker did not start" >&2; cat "$WORK/broker.log" >&2; exit 1; }
"$BUILD/bench/state/pixq-bench-state-ready" --bootstrap "$(cat "$WORK/bootstrap")" --prefix bench. \
  --jobs "$JOBS" --tail "$TAIL" --dir "$WORK/stores" 2>"$WORK/bench.log" || { tail -20 "$WORK/bench.log" >&2; exit 1; }
