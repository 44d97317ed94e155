#!/usr/bin/env bash
# The system benchmarks of issue 7, targets 2-5, against the real processes on loopback:
#   end_to_end  jobs/s of pixq-devbroker + pixq-api + two workers vs the bare pipeline in two
#               processes over the same jobs; job latency at half that throughput
#   api         wrk against POST /v1/jobs (no workers) and GET /v1/jobs/{id}; perf profile
#   memory      a worker's RSS after 500 and 5,000 jobs; peak with two 20 MP jobs in flight
#   scaling     jobs/s with two workers vs one (one CPU each: pinned, worker.concurrency 1)
#   pickup      (issue 16) an idle system's CPU over 30 s, and the README's first job on it:
#               createdAt -> startedAt -> finishedAt, and submission to Succeeded seen
# Each part starts its own pixq-devbroker, pixq-api and workers from the build directory with a
# temporary data directory, and stops them when it is done (and on any failure). It writes
# <out>/{end_to_end,api,memory,scaling,pickup}.{md,json}; every figure in them comes from this run.
#
# Usage: bench/system/run.sh [--smoke] [--out DIR] [--build DIR] [--parts LIST]
#                            [--kafka-properties K=V,...]
#   --smoke   a few dozen jobs and 2 s of wrk: checks that everything works, measures nothing
#   --out     where the sections go (default bench/results; with --smoke <build>/bench/system/smoke)
#   --build   the build directory holding the binaries (default build, or $PIXQ_BUILD_DIR)
#   --parts   which parts, comma-separated (default: all of end_to_end,api,memory,scaling,pickup)
#   --kafka-properties  librdkafka properties for pixq-api and the workers (their
#             PIXQ_KAFKA_PROPERTIES), e.g. fetch.wait.max.ms=500 to measure librdkafka's default;
#             the sections say so
# A full run (bench/results, every part) also rewrites the figures block of docs/scaling.md.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO"

SMOKE=0
OUT=""
BUILD="${PIXQ_BUILD_DIR:-build}"
ALL_PARTS="end_to_end,api,memory,scaling,pickup"
PARTS="$ALL_PARTS"
KAFKA_PROPERTIES=""
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) SMOKE=1 ;;
    --out) OUT="$2"; shift ;;
    --build) BUILD="$2"; shift ;;
    --parts) PARTS="$2"; shift ;;
    --kafka-properties) KAFKA_PROPERTIES="$2"; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
BUILD="$(cd "$BUILD" && pwd)"
for part in ${PARTS//,/ }; do
  case ",$ALL_PARTS," in *",$part,"*) ;; *) echo "run.sh: unknown part $part" >&2; exit 2 ;; esac
done
want() { case ",$PARTS," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
if [ -z "$OUT" ]; then
  if [ "$SMOKE" = 1 ]; then OUT="$BUILD/bench/system/smoke"; else OUT="$REPO/bench/results"; fi
fi
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
# Only a full run into the committed results updates the committed docs.
UPDATE_DOCS=0
if [ "$SMOKE" = 0 ] && [ "$OUT" = "$REPO/bench/results" ] && [ "$PARTS" = "$ALL_PARTS" ] &&
  [ -z "$KAFKA_PROPERTIES" ]; then
  UPDATE_DOCS=1
fi

KEEP="${PIXQ_BENCH_KEEP:-}"
# The processes read PIXQ_* and OTEL_* from the environment; only this script decides them.
for var in $(compgen -e); do
  case "$var" in PIXQ_* | OTEL_*) unset "$var" ;; esac
done

if [ "$SMOKE" = 1 ]; then
  E2E_JOBS=16 LATENCY_S=4 WRK_S=2 WRK_WARMUP_S=1 PERF_S=2 GET_IDS=40
  MEM_FIRST=8 MEM_TOTAL=16 SCALE_JOBS=8 WARMUP_JOBS=2 SETTLE_S=0.5 IDLE_S=3 FIRST_JOBS=2
else
  E2E_JOBS=800 LATENCY_S=60 WRK_S=30 WRK_WARMUP_S=5 PERF_S=10 GET_IDS=2000
  MEM_FIRST=500 MEM_TOTAL=5000 SCALE_JOBS=600 WARMUP_JOBS=4 SETTLE_S=2 IDLE_S=30 FIRST_JOBS=5
fi
WRK_THREADS=2
WRK_CONNECTIONS=32
CLIENTS=16           # HTTP clients submitting and long-polling, closed runs
LATENCY_CLIENTS=64   # clients of the open-loop latency run (each holds one job at a time)
PARTITIONS=4
CORES="$(nproc)"

LOAD="$BUILD/bench/system/pixq-bench-load"
for bin in "$LOAD" "$BUILD/cmd/devbroker/pixq-devbroker" "$BUILD/cmd/api/pixq-api" \
  "$BUILD/cmd/worker/pixq-worker"; do
  [ -x "$bin" ] || { echo "run.sh: $bin is missing; build first (scripts/build.sh $BUILD)" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "run.sh: wrk is missing (scripts/setup.sh --bench)" >&2; exit 2; }
command -v curl >/dev/null || { echo "run.sh: curl is missing (scripts/setup.sh)" >&2; exit 2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/pixq-bench.XXXXXX")"
J="$WORK/json"
mkdir -p "$J"
PIDS=()
finished=0

alive() { [ -e "/proc/$1" ] && ! grep -q ') Z ' "/proc/$1/stat" 2>/dev/null; }

# SIGTERM, up to 40 s to finish (workers commit and leave the group), then SIGKILL.
stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 400); do alive "$pid" || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  forget_pid "$pid"
}

forget_pid() {
  local kept=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || kept+=("$p"); done
  PIDS=("${kept[@]}")
}

cleanup() {
  local code=$?
  trap - EXIT INT TERM
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[$i]}"; done
  if [ "$finished" = 1 ] && [ -z "$KEEP" ]; then
    rm -rf "$WORK"
  else
    echo "run.sh: logs and measurements kept in $WORK" >&2
  fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "run.sh: $1" >&2
  if [ -n "${2:-}" ] && [ -f "$2" ]; then tail -n 20 "$2" >&2; fi
  exit 1
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds.
wait_for() {
  local tries=$(($1 * 10))
  shift
  for _ in $(seq "$tries"); do "$@" && return 0; sleep 0.1; done
  return 1
}

log() { echo "[$(date +%T)] $*" >&2; }

# --- numbers --------------------------------------------------------------------------------

# val FILE POINTER: one value of a JSON file (each file flattened once: one process per file).
# flat FILE.json: its values, one "pointer<TAB>value" a line, read once into FILE.json.flat
flat() {
  [ -s "$1.flat" ] || "$LOAD" flat "$1" >"$1.flat" || fail "cannot read $1"
}
val() {
  flat "$1"
  awk -F'\t' -v k="$2" '$1 == k { print $2; found = 1; exit } END { exit !found }' "$1.flat" ||
    { echo "MISSING"; echo "${1##*/} has no $2" >>"$WORK/missing.txt"; }
}
# fmt PRINTF-FORMAT AWK-EXPRESSION
fmt() { awk "BEGIN { printf \"$1\", ($2) }"; }
# holds AWK-CONDITION: exit status 0 when it is true
holds() { awk "BEGIN { exit !($1) }"; }
# ratio A B: A / B with two decimals, 0 when B is 0 (nothing measured).
ratio() { fmt "%.2f" "($2 == 0) ? 0 : $1 / ($2)"; }
mib() { fmt "%.0f" "$1 / 1048576"; }
# machine_ticks: the machine's busy and total CPU ticks so far (/proc/stat), "busy total".
machine_ticks() { head -1 /proc/stat | awk '{ t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t }'; }
# busy_between "BUSY0 TOTAL0" "BUSY1 TOTAL1": the share of the machine's CPU time that was busy.
busy_between() {
  local b0 t0 b1 t1
  read -r b0 t0 <<<"$1"
  read -r b1 t1 <<<"$2"
  fmt "%.0f" "($t1 > $t0) ? 100 * ($b1 - $b0) / ($t1 - $t0) : 0"
}
# machine_state: the load average and the machine's CPU busy over 1 s, as text for a section.
machine_state() {
  local before
  before="$(machine_ticks)"
  sleep 1
  echo "load average $(cut -d' ' -f1-3 /proc/loadavg); CPU busy $(busy_between "$before" "$(machine_ticks)")% over 1 s"
}
PROPS_TEXT="pixq's defaults"
[ -z "$KAFKA_PROPERTIES" ] || PROPS_TEXT="\`kafka.properties\` $KAFKA_PROPERTIES (\`--kafka-properties\`)"

# --- the system -----------------------------------------------------------------------------

SYS_DIR=""
URL=""
BROKER_PID=""
API_PID=""
WORKER_PIDS=()

pixq_env() {
  echo "PIXQ_STORAGE_ROOT=$SYS_DIR/volume" "PIXQ_KAFKA_BOOTSTRAP_FILE=$SYS_DIR/kafka.bootstrap" \
    "PIXQ_HTTP_ADDRESS=127.0.0.1" "PIXQ_LOG_LEVEL=info" \
    ${KAFKA_PROPERTIES:+"PIXQ_KAFKA_PROPERTIES=$KAFKA_PROPERTIES"}
}

# start_system NAME: pixq-devbroker and pixq-api (any free port), no workers yet.
start_system() {
  SYS_DIR="$WORK/$1"
  mkdir -p "$SYS_DIR/volume"
  "$BUILD/cmd/devbroker/pixq-devbroker" --partitions "$PARTITIONS" \
    --bootstrap-file "$SYS_DIR/kafka.bootstrap" >"$SYS_DIR/devbroker.log" 2>&1 &
  BROKER_PID=$!
  PIDS+=("$BROKER_PID")
  wait_for 20 test -s "$SYS_DIR/kafka.bootstrap" ||
    fail "pixq-devbroker did not start" "$SYS_DIR/devbroker.log"
  # shellcheck disable=SC2046
  env $(pixq_env) ${API_ENV:-} PIXQ_HTTP_PORT=0 "$BUILD/cmd/api/pixq-api" >"$SYS_DIR/api.log" 2>&1 &
  API_PID=$!
  PIDS+=("$API_PID")
  local port=""
  for _ in $(seq 300); do
    port="$(grep '"pixq-api listening"' "$SYS_DIR/api.log" 2>/dev/null |
      grep -o '"port":[0-9]*' | head -1 | cut -d: -f2 || true)"
    [ -n "$port" ] && break
    alive "$API_PID" || break
    sleep 0.1
  done
  [ -n "$port" ] || fail "pixq-api did not start" "$SYS_DIR/api.log"
  URL="http://127.0.0.1:$port"
  wait_for 30 curl -fs -o /dev/null --noproxy '*' "$URL/readyz" ||
    fail "pixq-api did not get ready" "$SYS_DIR/api.log"
  WORKER_PIDS=()
  log "  $1: pixq-devbroker and pixq-api ready at $URL"
}

# The CPUs this script may run on, as a list ("0-1,3" becomes 0 1 3).
mapfile -t ALLOWED_CPUS < <(taskset -cp $$ | sed 's/.*: //' | tr ',' '\n' |
  while IFS=- read -r a b; do seq "$a" "${b:-$a}"; done)

# start_worker NAME [CONCURRENCY] [CPU]: one more worker (CONCURRENCY empty: the default, its CPU
# limit). With CPU (an index into ALLOWED_CPUS), the worker runs on that CPU only (taskset), which
# it reads as a CPU limit of 1, as it would a Kubernetes CPU limit.
start_worker() {
  local name=$1 concurrency=${2:-} cpu=${3:-} pin=()
  [ -z "$cpu" ] || pin=(taskset -c "${ALLOWED_CPUS[$((cpu % ${#ALLOWED_CPUS[@]}))]}")
  # shellcheck disable=SC2046
  env $(pixq_env) PIXQ_WORKER_NAME="$name" PIXQ_WORKER_ADDRESS=127.0.0.1 PIXQ_WORKER_PORT=0 \
    ${concurrency:+PIXQ_WORKER_CONCURRENCY=$concurrency} \
    "${pin[@]}" "$BUILD/cmd/worker/pixq-worker" >"$SYS_DIR/$name.log" 2>&1 &
  WORKER_PIDS+=($!)
  PIDS+=($!)
}

# Whether every worker is running and its latest partition assignment is non-empty.
workers_settled() {
  local pid log
  for pid in "${WORKER_PIDS[@]}"; do alive "$pid" || return 1; done
  for log in "$SYS_DIR"/worker-*.log; do
    [ -f "$log" ] || continue
    grep '"partitions assigned"' "$log" | tail -1 | grep -q '"partitions":\[[0-9]' || return 1
  done
}

wait_workers() {
  local logs=("$SYS_DIR"/worker-*.log)
  wait_for 60 workers_settled || fail "the workers did not join the group" "${logs[-1]}"
  log "  ${#WORKER_PIDS[@]} worker(s) in the group"
  sleep "$SETTLE_S"
}

# concurrency_of NAME: the concurrency a running worker logged at start.
concurrency_of() {
  { grep '"pixq-worker started"' "$SYS_DIR/$1.log" | grep -o '"concurrency":[0-9]*' | head -1 |
    cut -d: -f2; } || echo "unknown"
}

stop_workers() {
  local pid
  for pid in "${WORKER_PIDS[@]}"; do stop_pid "$pid"; done
  WORKER_PIDS=()
  mkdir -p "$SYS_DIR/old"
  for log in "$SYS_DIR"/worker-*.log; do [ -f "$log" ] && mv "$log" "$SYS_DIR/old/"; done
  return 0
}

stop_system() {
  log "  stopping"
  stop_workers
  stop_pid "$API_PID"
  stop_pid "$BROKER_PID"
  log "  stopped"
}

# --- jobs -----------------------------------------------------------------------------------

# Each system hands out job indices from 0 up, so that no two runs on it ask for the same output.
NEXT=0
take() { FIRST=$NEXT; NEXT=$((NEXT + $1)); }

photo_names() {
  local path
  while read -r path; do basename "$path"; done <"$1" | paste -sd, - | sed 's/,/, /g'
}

CANDIDATES=()
mapfile -t CANDIDATES < <(dpkg -L lomiri-wallpapers lomiri-wallpapers-16.04 \
  lomiri-wallpapers-20.04 2>/dev/null | grep -iE '\.jpe?g$' | sort -u || true)
[ ${#CANDIDATES[@]} -gt 0 ] || fail "no photos: install lomiri-wallpapers-20.04 (scripts/setup.sh --bench)"
"$LOAD" photos --min-mp 13 --max-mp 21 "${CANDIDATES[@]}" >"$WORK/photos.txt" ||
  fail "none of Debian's wallpapers is a 13-21 MP JPEG"
"$LOAD" photos --min-mp 13 --max-mp 21 --largest 1 "${CANDIDATES[@]}" >"$WORK/largest.txt"
PHOTOS="$(photo_names "$WORK/photos.txt")"
NPHOTOS="$(wc -l <"$WORK/photos.txt")"
LARGEST="$(photo_names "$WORK/largest.txt")"
SMOKE_NOTE=""
if [ "$SMOKE" = 1 ]; then
  SMOKE_NOTE=$'\n> **Smoke run** (`--smoke`): a few jobs and seconds only, to check the benchmark works. These figures measure nothing.\n'
fi
# A run of some parts only says so in each section, with when and on what code it ran, since
# bench/RESULTS.md's header describes the run of every part (bench/splice_results.sh).
PARTIAL_NOTE=""
if [ "$PARTS" != "$ALL_PARTS" ] || [ -n "$KAFKA_PROPERTIES" ]; then
  CODE="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  if [ -n "$(git status --porcelain -- . ':!bench/results' ':!bench/RESULTS.md' ':!docs/scaling.md' 2>/dev/null)" ]; then
    CODE="$CODE with uncommitted changes"
  fi
  PARTIAL_NOTE=$'\n'"> From \`bench/system/run.sh --parts $PARTS${KAFKA_PROPERTIES:+ --kafka-properties $KAFKA_PROPERTIES}\`, started $(date -u +'%Y-%m-%d %H:%M UTC') on pixq $CODE, $CORES cores (load average $(cut -d' ' -f1-3 /proc/loadavg) at its start); not the run the header describes."$'\n'
fi
JOBS_TEXT="distinct JPEG thumbnails of about 800 px: a resize box of 700–900 px (\`fit: inside\`) and quality 70–95 chosen per job, over the photos in turn"

upload() { "$LOAD" upload --url "$URL" --list "$1" --out "$2" || fail "upload failed" "$SYS_DIR/api.log"; }

# ============================================================================================
# Target 2: end to end
# ============================================================================================
if want end_to_end; then
log "end to end: bare pipeline, 2 processes"
NEXT=0
take "$WARMUP_JOBS"
WARM_FIRST=$FIRST
take "$E2E_JOBS"
E2E_FIRST=$FIRST
"$LOAD" bare --list "$WORK/photos.txt" --jobs "$E2E_JOBS" --first "$E2E_FIRST" --procs 2 \
  --threads 1 --out "$J/e2e_bare.json" || fail "the bare pipeline failed"

log "end to end: $E2E_JOBS jobs through devbroker, api and two workers"
E2E_MACHINE="$(machine_state)"
start_system e2e
start_worker worker-1
start_worker worker-2
wait_workers
E2E_CONCURRENCY="$(concurrency_of worker-1)"
upload "$WORK/photos.txt" "$J/e2e_photos.json"
"$LOAD" run --url "$URL" --photos "$J/e2e_photos.json" --jobs "$WARMUP_JOBS" \
  --first "$WARM_FIRST" --concurrency 4 --out "$J/e2e_warmup.json"
"$LOAD" run --url "$URL" --photos "$J/e2e_photos.json" --jobs "$E2E_JOBS" --first "$E2E_FIRST" \
  --concurrency "$CLIENTS" --watch "${WORKER_PIDS[0]}" --watch "${WORKER_PIDS[1]}" \
  --watch "$API_PID" --watch "$BROKER_PID" --watch-interval-ms 1000 --out "$J/e2e_throughput.json"
E2E_RATE="$(val "$J/e2e_throughput.json" /throughput_jobs_per_s)"
HALF="$(fmt "%.3f" "$E2E_RATE / 2")"
LAT_MIN=$((SMOKE == 1 ? 4 : 10))
LAT_JOBS="$(fmt "%d" "($HALF * $LATENCY_S < $LAT_MIN) ? $LAT_MIN : $HALF * $LATENCY_S")"
take "$LAT_JOBS"
log "end to end: latency at $HALF jobs/s ($LAT_JOBS jobs)"
holds "$HALF > 0" || fail "no job succeeded end to end" "$SYS_DIR/worker-1.log"
"$LOAD" run --url "$URL" --photos "$J/e2e_photos.json" --jobs "$LAT_JOBS" --first "$FIRST" \
  --rate "$HALF" --concurrency "$LATENCY_CLIENTS" --out "$J/e2e_latency.json"
stop_system

"$LOAD" merge bare="$J/e2e_bare.json" throughput="$J/e2e_throughput.json" \
  latency="$J/e2e_latency.json" >"$OUT/end_to_end.json"
BARE_RATE="$(val "$J/e2e_bare.json" /throughput_jobs_per_s)"
E2E_RATIO="$(ratio "$E2E_RATE" "$BARE_RATE")"
E2E_OK="$(val "$J/e2e_throughput.json" /all_succeeded)"
LAT_OK="$(val "$J/e2e_latency.json" /all_succeeded)"
# Issue 16's latency target: p50 at most 2.5x the bare pipeline's per-job p50, p99 <= 500 ms.
LAT_P50="$(fmt "%.0f" "$(val "$J/e2e_latency.json" /latency_ms/p50)")"
LAT_P99="$(fmt "%.0f" "$(val "$J/e2e_latency.json" /latency_ms/p99)")"
BARE_P50="$(fmt "%.0f" "$(val "$J/e2e_bare.json" /pipeline_ms/p50)")"
LAT_RATIO="$(ratio "$LAT_P50" "$BARE_P50")"
LAT_MET="not met"
if [ "$LAT_OK" = true ] && holds "$LAT_RATIO <= 2.5 && $LAT_P99 <= 500"; then LAT_MET="met"; fi
E2E_MET="not met"
if [ "$E2E_OK" = true ] && holds "$E2E_RATIO >= 0.8"; then E2E_MET="met"; fi
E2E_WALL="$(val "$J/e2e_throughput.json" /wall_seconds)"
cores_of() { # cores_of FILE ROOT-INDEX: CPU seconds of that watched tree / wall seconds
  ratio "$(val "$1" "/watch/per_root/$2/cpu_seconds")" "$(val "$1" /watch/wall_seconds)"
}
cat >"$OUT/end_to_end.md" <<EOF
## End to end (target 2)
$SMOKE_NOTE$PARTIAL_NOTE
**Target:** with \`pixq-devbroker\`, \`pixq-api\` and two workers on this machine, jobs per second
for 800 px JPEG thumbnails of the real photos ≥ **0.8×** the throughput of the bare pipeline run in
two processes over the same images in the same run; p50/p99 job latency (submission to
\`Succeeded\`) at half that throughput. Issue 16: that latency's p50 at most **2.5×** the bare
pipeline's per-job p50 in the same run, p99 ≤ **500 ms**.

**Result: $E2E_MET; latency (issue 16) $LAT_MET.** End to end $(fmt "%.2f" "$E2E_RATE") jobs/s against $(fmt "%.2f" "$BARE_RATE") jobs/s for the
bare pipeline: **$E2E_RATIO×** (target ≥ 0.80). At $(fmt "%.2f" "$HALF") jobs/s a job took
**$LAT_P50 ms** (p50, **$LAT_RATIO×** the bare pipeline's $BARE_P50 ms; target ≤ 2.5×) and **$LAT_P99 ms** (p99; target ≤ 500 ms) from submission to \`Succeeded\`.

| | |
|---|---|
| photos | $NPHOTOS JPEGs of 13–21 MP from Debian's lomiri-wallpapers packages: $PHOTOS |
| jobs | $E2E_JOBS $JOBS_TEXT; the same jobs in both runs |
| bare pipeline | \`imaging::Pipeline::Run\` in 2 processes (1 OpenCV thread each, \`KeepImageBuffers()\` as in the codec processes) over the photos' bytes in memory: $(fmt "%.2f" "$BARE_RATE") jobs/s, $(val "$J/e2e_bare.json" /completed) jobs in $(fmt "%.1f" "$(val "$J/e2e_bare.json" /wall_seconds)") s; per job p50 $(fmt "%.0f" "$(val "$J/e2e_bare.json" /pipeline_ms/p50)") ms, p99 $(fmt "%.0f" "$(val "$J/e2e_bare.json" /pipeline_ms/p99)") ms |
| end to end | 2 workers (\`worker.concurrency\` default, here $E2E_CONCURRENCY each), $PARTITIONS partitions; $CLIENTS HTTP clients submitted every job ($(val "$J/e2e_throughput.json" /accepted) answered 202, in $(fmt "%.1f" "$(val "$J/e2e_throughput.json" /submit_seconds)") s), then long-polled each until it ended; $(val "$J/e2e_throughput.json" /succeeded) \`Succeeded\`, $(val "$J/e2e_throughput.json" /failed) \`Failed\`, $(val "$J/e2e_throughput.json" /unfinished) unfinished; first submission to last \`Succeeded\` $(fmt "%.1f" "$E2E_WALL") s: **$(fmt "%.2f" "$E2E_RATE") jobs/s** |
| CPU used meanwhile (cores) | worker-1 $(cores_of "$J/e2e_throughput.json" 0), worker-2 $(cores_of "$J/e2e_throughput.json" 1), pixq-api $(cores_of "$J/e2e_throughput.json" 2), pixq-devbroker $(cores_of "$J/e2e_throughput.json" 3), of $CORES |
| latency run | open loop: $LAT_JOBS jobs at $(fmt "%.2f" "$HALF") jobs/s (half the end-to-end throughput), each due at its time whatever the others do and timed from then; $(val "$J/e2e_latency.json" /succeeded) \`Succeeded\`, $(val "$J/e2e_latency.json" /late_sends) sent more than 20 ms late |
| latency, submission to \`Succeeded\` | p50 $(fmt "%.0f" "$(val "$J/e2e_latency.json" /latency_ms/p50)") ms, p90 $(fmt "%.0f" "$(val "$J/e2e_latency.json" /latency_ms/p90)") ms, p99 $(fmt "%.0f" "$(val "$J/e2e_latency.json" /latency_ms/p99)") ms, max $(fmt "%.0f" "$(val "$J/e2e_latency.json" /latency_ms/max)") ms |
| all jobs accepted and \`Succeeded\` | throughput run: $E2E_OK; latency run: $LAT_OK |
| Kafka clients | $PROPS_TEXT |
| machine before this part | $E2E_MACHINE |

The bare figure is the pipeline alone (decode with shrink-on-load, resize, encode) on bytes already in
memory. End to end adds what a job costs around it: the HTTP request, two acknowledged Kafka
produces per submission, the worker's consume, its status publishes (\`Running\`, \`Succeeded\`), reading
the original from the volume, handing it to the job slot's codec process and the result back over a
socket, writing the output (temp file, fsync, rename), and the API applying each status record, all
on the same $CORES cores as the pipeline.
EOF

fi

# ============================================================================================
# Target 3: API
# ============================================================================================
if want api; then
log "api: wrk against POST /v1/jobs and GET /v1/jobs/{id}, no workers"
start_system api
NEXT=0
upload "$WORK/largest.txt" "$J/api_photos.json"
IMAGE="$(val "$J/api_photos.json" /0/id)"
WRK_DIR="$REPO/bench/system/wrk"

# cpu_now: CPU seconds of pixq-api and pixq-devbroker so far, and the machine's busy and total
# CPU ticks from /proc/stat: "api broker busy total".
cpu_now() {
  local machine
  machine="$(head -1 /proc/stat | awk '{ t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t }')"
  echo "$("$LOAD" cpu --pid "$API_PID" --pid "$BROKER_PID" | paste -sd' ' -) $machine"
}

# run_wrk NAME SECONDS SCRIPT ARGS...: wrk's JSON line to $J/NAME.json, CPU used to $J/NAME.cpu.json
run_wrk() {
  local name=$1 seconds=$2 script=$3
  shift 3
  local before after
  before="$(cpu_now)"
  local TIMEFORMAT='%U %S'
  { time wrk -t "$WRK_THREADS" -c "$WRK_CONNECTIONS" -d "${seconds}s" --timeout 5s \
    -s "$WRK_DIR/$script" "$URL" -- "$@" >"$J/$name.txt" 2>&1; } 2>"$J/$name.time"
  after="$(cpu_now)"
  grep '^JSON ' "$J/$name.txt" | sed 's/^JSON //' >"$J/$name.json" ||
    fail "wrk gave no result" "$J/$name.txt"
  read -r a0 b0 m0 t0 <<<"$before"
  read -r a1 b1 m1 t1 <<<"$after"
  read -r wu ws <"$J/$name.time"
  printf '{"api_cpu_seconds":%s,"broker_cpu_seconds":%s,"wrk_cpu_seconds":%s,"machine_busy_percent":%s}\n' \
    "$(fmt "%.3f" "$a1 - $a0")" "$(fmt "%.3f" "$b1 - $b0")" "$(fmt "%.3f" "$wu + $ws")" \
    "$(fmt "%.1f" "($t1 > $t0) ? 100 * ($m1 - $m0) / ($t1 - $t0) : 0")" >"$J/$name.cpu.json"
}

# Requests a second, p99 in ms, and the cores each process used, of one wrk run.
wrk_rps() { fmt "%.0f" "$(val "$J/$1.json" /requests) / ($(val "$J/$1.json" /duration_us) / 1e6)"; }
wrk_ms() { fmt "%.2f" "$(val "$J/$1.json" "/latency_us/$2") / 1000"; }
wrk_cores() {
  fmt "%.2f" "$(val "$J/$1.cpu.json" "/$2_cpu_seconds") / ($(val "$J/$1.json" /duration_us) / 1e6)"
}

run_wrk api_post_warmup "$WRK_WARMUP_S" submit.lua "$IMAGE" 0 "$WRK_THREADS"
run_wrk api_post "$WRK_S" submit.lua "$IMAGE" 200000 "$WRK_THREADS"
"$LOAD" run --url "$URL" --photos "$J/api_photos.json" --jobs "$GET_IDS" --concurrency "$CLIENTS" \
  --no-wait --ids-out "$WORK/job_ids.txt" --out "$J/api_get_ids.json"
run_wrk api_get_warmup "$WRK_WARMUP_S" get.lua "$WORK/job_ids.txt" "$WRK_THREADS"
run_wrk api_get "$WRK_S" get.lua "$WORK/job_ids.txt" "$WRK_THREADS"

# The profiles: runs of their own, so perf's cost stays out of the figures above.
# profile NAME SCRIPT ARGS...: perf record on pixq-api and pixq-devbroker during PERF_S s of wrk;
# the report (thread, library, symbol; tab-separated) in $WORK/perf_NAME.txt.
PERF_STATE="perf is not installed (linux-perf)"
profile() {
  local name=$1 script=$2
  shift 2
  log "api: perf record during $PERF_S s of $name"
  perf record -F 999 -p "$API_PID,$BROKER_PID" -o "$WORK/perf_$name.data" -- sleep "$PERF_S" \
    >"$WORK/perf_$name.log" 2>&1 &
  local perf_pid=$!
  PIDS+=("$perf_pid")
  sleep 0.3
  run_wrk "api_${name}_perf" "$PERF_S" "$script" "$@"
  wait "$perf_pid" 2>/dev/null || true
  forget_pid "$perf_pid"
  if [ -s "$WORK/perf_$name.data" ] &&
    perf report -i "$WORK/perf_$name.data" --stdio --no-children --sort comm,dso,sym -t $'\t' \
      >"$WORK/perf_$name.txt" 2>"$WORK/perf_$name.report.log"; then
    PERF_STATE="ok"
  else
    PERF_STATE="perf record failed: $(tail -n 3 "$WORK/perf_$name.log" | tr '\n' ' ')"
  fi
}
if command -v perf >/dev/null; then
  profile post submit.lua "$IMAGE" 1400000 "$WRK_THREADS"
  [ "$PERF_STATE" != ok ] || profile get get.lua "$WORK/job_ids.txt" "$WRK_THREADS"
fi
stop_system

# The same submissions with more HTTP threads (parsing and validating in parallel; they no longer
# hold a submission each).
TUNED_THREADS=32
TUNED_ENV="PIXQ_HTTP_THREADS=$TUNED_THREADS"
log "api: POST again with $TUNED_ENV"
API_ENV="$TUNED_ENV" start_system api_tuned
NEXT=0
upload "$WORK/largest.txt" "$J/api_tuned_photos.json"
TUNED_IMAGE="$(val "$J/api_tuned_photos.json" /0/id)"
run_wrk api_post_tuned_warmup "$WRK_WARMUP_S" submit.lua "$TUNED_IMAGE" 0 "$WRK_THREADS"
run_wrk api_post_tuned "$WRK_S" submit.lua "$TUNED_IMAGE" 200000 "$WRK_THREADS"
stop_system

# perf_top NAME FIELDS N: the shares of the samples summed by the given fields of a perf report
# (2 thread, 3 library, 4 symbol; "2,3,4" for each symbol), largest first: "share<TAB>key...".
perf_top() {
  grep -v '^#' "$WORK/perf_$1.txt" | grep -v '^[[:space:]]*$' |
    awk -F'\t' -v fields="$2" '{
      share = $1; gsub(/[ %]/, "", share); n = split(fields, f, ","); key = "";
      for (i = 1; i <= n; i++) { v = $(f[i]); gsub(/^ +| +$/, "", v); key = key (i > 1 ? "\t" : "") v }
      sum[key] += share }
      END { for (k in sum) printf "%.2f%%\t%s\n", sum[k], k }' |
    sort -t$'\t' -k1,1 -rn | head -n "$3"
}
# kernel_share NAME: the share of the samples in the kernel (system calls, sockets, scheduling).
kernel_share() {
  local share
  share="$(perf_top "$1" 3 100 | awk -F'\t' '$2 == "[kernel.kallsyms]" { print $1 }')"
  echo "${share:-0%}"
}
# Rows "a<TAB>b..." on stdin as markdown table rows (long symbols cut short).
md_rows() {
  awk -F'\t' '{ row = "|"; for (i = 1; i <= NF; i++) { v = $i; gsub(/\|/, "\\|", v);
    if (length(v) > 90) v = substr(v, 1, 87) "..."; row = row " " v " |" } print row }'
}
# Rows on stdin as a JSON array of arrays of strings.
json_rows() {
  awk -F'\t' 'BEGIN { printf "[" } { printf "%s[", (NR > 1 ? "," : "");
    for (i = 1; i <= NF; i++) { v = $i; gsub(/\\/, "\\\\", v); gsub(/"/, "\\\"", v);
    printf "%s\"%s\"", (i > 1 ? "," : ""), v } printf "]" } END { printf "]" }'
}
if [ "$PERF_STATE" = ok ]; then
  for name in post get; do
    printf '{"by_thread":%s,"by_library":%s,"top_symbols":%s}\n' \
      "$(perf_top $name 2 10 | json_rows)" "$(perf_top $name 3 10 | json_rows)" \
      "$(perf_top $name 2,3,4 25 | json_rows)" >"$J/api_perf_$name.json"
  done
  "$LOAD" merge post="$J/api_perf_post.json" get="$J/api_perf_get.json" >"$J/api_perf.json"
else
  printf '{"error":"%s"}\n' "${PERF_STATE//\"/\'}" >"$J/api_perf.json"
fi
"$LOAD" merge post="$J/api_post.json" post_cpu="$J/api_post.cpu.json" get="$J/api_get.json" \
  get_cpu="$J/api_get.cpu.json" perf="$J/api_perf.json" post_tuned="$J/api_post_tuned.json" \
  post_tuned_cpu="$J/api_post_tuned.cpu.json" >"$OUT/api.json"

POST_RPS="$(wrk_rps api_post)"
POST_P99="$(wrk_ms api_post p99)"
GET_RPS="$(wrk_rps api_get)"
GET_P99="$(wrk_ms api_get p99)"
POST_BAD="$(fmt "%d" "$(val "$J/api_post.json" /answers/other) + $(val "$J/api_post.json" /errors/connect) + $(val "$J/api_post.json" /errors/read) + $(val "$J/api_post.json" /errors/write) + $(val "$J/api_post.json" /errors/timeout)")"
GET_BAD="$(fmt "%d" "$(val "$J/api_get.json" /answers/other) + $(val "$J/api_get.json" /errors/connect) + $(val "$J/api_get.json" /errors/read) + $(val "$J/api_get.json" /errors/write) + $(val "$J/api_get.json" /errors/timeout)")"
POST_MET="not met"
if holds "$POST_RPS >= 5000 && $POST_P99 <= 25 && $POST_BAD == 0"; then POST_MET="met"; fi
GET_MET="not met"
if holds "$GET_RPS >= 20000 && $GET_BAD == 0"; then GET_MET="met"; fi
busy() { fmt "%.0f" "100 * ($(wrk_cores "$1" api) + $(wrk_cores "$1" broker) + $(wrk_cores "$1" wrk)) / $CORES"; }
# limit_text NAME: what the CPU figures of a wrk run say about its limit.
limit_text() {
  local ours machine
  ours="$(busy "api_$1")"
  machine="$(fmt "%.0f" "$(val "$J/api_$1.cpu.json" /machine_busy_percent)")"
  if holds "$machine - $ours > 10"; then
    echo -n "the machine was not idle (other processes took $(fmt "%.0f" "$machine - $ours")% of the CPU; pixq-api, pixq-devbroker and wrk $ours%), so this run cannot tell whether it is CPU-bound"
  elif holds "$machine >= 90"; then
    echo -n "the $CORES cores were busy $machine% of the time, nearly all of it pixq-api, pixq-devbroker and wrk ($ours%): CPU-bound"
  else
    echo -n "the $CORES cores were busy only $machine% of the time (pixq-api, pixq-devbroker and wrk: $ours%): not CPU-bound, requests wait"
  fi
}
{
  cat <<EOF
## API (target 3)
$SMOKE_NOTE$PARTIAL_NOTE
**Target:** with \`wrk\` against \`POST /v1/jobs\` for an uploaded image (each answer \`202\` after Kafka
acknowledged it) and \`GET /v1/jobs/{id}\`: submission ≥ **5,000/s** with p99 ≤ **25 ms**, reads ≥
**20,000/s**, on this $CORES-core machine with broker and API side by side; what limits it.

**Result: submission $POST_MET, reads $GET_MET.** \`POST /v1/jobs\`: **$POST_RPS/s**, p99
**$POST_P99 ms**. \`GET /v1/jobs/{id}\`: **$GET_RPS/s**, p99 **$GET_P99 ms**.

No workers run (jobs queue in Kafka), so only \`pixq-devbroker\`, \`pixq-api\` (\`http.threads\` 4, the
default) and wrk share the $CORES cores. wrk: $WRK_THREADS threads, $WRK_CONNECTIONS connections, $WRK_S s
per run after a $WRK_WARMUP_S s warm-up; [\`bench/system/wrk/\`](../system/wrk/) holds the scripts. Every
submission is a job of its own on one uploaded photo ($LARGEST): width, grayscale, format and quality
vary per request, so none is a cache hit. Reads go round $(val "$J/api_get_ids.json" /accepted) jobs created for them.
wrk is a closed loop (each connection sends its next request when the last is answered), so when
the API falls behind, the latencies understate what clients arriving at a fixed rate would see.

| | POST /v1/jobs | GET /v1/jobs/{id} |
|---|---|---|
| requests a second | $POST_RPS | $GET_RPS |
| latency p50 / p90 / p99 / max (ms) | $(wrk_ms api_post p50) / $(wrk_ms api_post p90) / $POST_P99 / $(wrk_ms api_post max) | $(wrk_ms api_get p50) / $(wrk_ms api_get p90) / $GET_P99 / $(wrk_ms api_get max) |
| requests | $(val "$J/api_post.json" /requests) | $(val "$J/api_get.json" /requests) |
| answered as expected | $(val "$J/api_post.json" /answers/expected) (\`202\`) | $(val "$J/api_get.json" /answers/expected) (below 400: \`200\`) |
| other answers, socket errors, timeouts | $(val "$J/api_post.json" /answers/other), $(fmt "%d" "$(val "$J/api_post.json" /errors/connect) + $(val "$J/api_post.json" /errors/read) + $(val "$J/api_post.json" /errors/write)"), $(val "$J/api_post.json" /errors/timeout) | $(val "$J/api_get.json" /answers/other), $(fmt "%d" "$(val "$J/api_get.json" /errors/connect) + $(val "$J/api_get.json" /errors/read) + $(val "$J/api_get.json" /errors/write)"), $(val "$J/api_get.json" /errors/timeout) |
| CPU used (cores): pixq-api / pixq-devbroker / wrk | $(wrk_cores api_post api) / $(wrk_cores api_post broker) / $(wrk_cores api_post wrk) | $(wrk_cores api_get api) / $(wrk_cores api_get broker) / $(wrk_cores api_get wrk) |
| the machine's CPU busy (all processes) | $(fmt "%.0f" "$(val "$J/api_post.cpu.json" /machine_busy_percent)")% | $(fmt "%.0f" "$(val "$J/api_get.cpu.json" /machine_busy_percent)")% |

Submission: $(limit_text post). Reads: $(limit_text get).

The same submissions with \`http.threads\` $TUNED_THREADS
(\`$TUNED_ENV\`; not the defaults, and not what the target above was judged on):
**$(wrk_rps api_post_tuned)/s**, latency p50 / p99 $(wrk_ms api_post_tuned p50) / $(wrk_ms api_post_tuned p99) ms,
$(val "$J/api_post_tuned.json" /answers/expected) of $(val "$J/api_post_tuned.json" /requests) answered \`202\`; CPU used (cores): pixq-api
$(wrk_cores api_post_tuned api), pixq-devbroker $(wrk_cores api_post_tuned broker), wrk $(wrk_cores api_post_tuned wrk); $(limit_text post_tuned).

### Where the time goes

EOF
  if [ "$PERF_STATE" = ok ]; then
    cat <<EOF
\`perf record -F 999\` on \`pixq-api\` and \`pixq-devbroker\` during $PERF_S s of each load (runs of their
own, so the profiler's cost is not in the figures above); shares of the samples (CPU time) by
thread, by library, and the top symbols. Threads without a name of their own (Pistache's HTTP
threads among them) show as \`pixq-api\`; librdkafka's are \`rdk:*\`.

**Submission** (\`POST /v1/jobs\`): $(kernel_share post) of the samples in the kernel.

| samples | thread |
|---|---|
$(perf_top post 2 8 | md_rows)

| samples | library |
|---|---|
$(perf_top post 3 10 | md_rows)

| samples | thread | library | symbol |
|---|---|---|---|
$(perf_top post 2,3,4 20 | md_rows)

**Reads** (\`GET /v1/jobs/{id}\`): $(kernel_share get) of the samples in the kernel.

| samples | thread |
|---|---|
$(perf_top get 2 8 | md_rows)

| samples | library |
|---|---|
$(perf_top get 3 10 | md_rows)

| samples | thread | library | symbol |
|---|---|---|---|
$(perf_top get 2,3,4 15 | md_rows)
EOF
  else
    echo "No profile: $PERF_STATE."
  fi
  cat <<'EOF'

How a submission is served (the code, whatever the figures): `POST /v1/jobs` parses and validates
the spec on one of the `http.threads` Pistache threads, hands the `Pending` record to the producer
(`pixq.job-status`) and returns the thread to Pistache. From that record's delivery report (Kafka
acknowledged it: `acks=all`, idempotent producer, `linger.ms` 0) the job goes to `pixq.jobs`, and
from the job's delivery report the answer is written (`api::Service::CreateJobAsync`, Pistache's
`ResponseWriter` moved out of the handler). So no thread waits for the broker: submissions in
flight are bounded by the connections, not by `http.threads`, and a submission's latency is two
acknowledged round trips to the broker, while the producer batches what arrives meanwhile. `GET /v1/jobs/{id}` waits for nothing: it reads the in-memory
table and serialises the record to JSON, so it is bound by CPU (JSON, HTTP parsing and the
kernel's loopback TCP), shared with wrk on the same cores.
EOF
} >"$OUT/api.md"

fi

# ============================================================================================
# Target 4: memory
# ============================================================================================
if want memory; then
log "memory: one worker, $MEM_FIRST then $MEM_TOTAL jobs"
start_system memory
NEXT=0
upload "$WORK/photos.txt" "$J/mem_photos.json"
start_worker worker-1
wait_workers
MEM_CONCURRENCY="$(concurrency_of worker-1)"
MEM_PID="${WORKER_PIDS[0]}"
take "$MEM_FIRST"
"$LOAD" run --url "$URL" --photos "$J/mem_photos.json" --jobs "$MEM_FIRST" --first "$FIRST" \
  --concurrency "$CLIENTS" --out "$J/mem_first.json"
sleep "$SETTLE_S"
"$LOAD" rss --pid "$MEM_PID" >"$J/mem_rss_first.json"
take $((MEM_TOTAL - MEM_FIRST))
"$LOAD" run --url "$URL" --photos "$J/mem_photos.json" --jobs $((MEM_TOTAL - MEM_FIRST)) \
  --first "$FIRST" --concurrency "$CLIENTS" --out "$J/mem_rest.json"
sleep "$SETTLE_S"
"$LOAD" rss --pid "$MEM_PID" >"$J/mem_rss_total.json"
stop_workers

log "memory: peak with two 20 MP jobs in flight"
upload "$WORK/largest.txt" "$J/mem_peak_photos.json"
start_worker worker-2 2
wait_workers
PEAK_PID="${WORKER_PIDS[0]}"
"$LOAD" rss --pid "$PEAK_PID" >"$J/mem_peak_idle.json"
"$LOAD" run --url "$URL" --photos "$J/mem_peak_photos.json" --jobs 2 --first 0 --shape full \
  --concurrency 2 --watch "$PEAK_PID" --watch-interval-ms 10 --out "$J/mem_peak.json"
"$LOAD" rss --pid "$PEAK_PID" >"$J/mem_peak_after.json"
stop_system

"$LOAD" merge first_run="$J/mem_first.json" rss_after_first="$J/mem_rss_first.json" \
  rest_run="$J/mem_rest.json" rss_after_total="$J/mem_rss_total.json" \
  peak_idle="$J/mem_peak_idle.json" peak_run="$J/mem_peak.json" \
  peak_after="$J/mem_peak_after.json" >"$OUT/memory.json"
RSS_FIRST="$(val "$J/mem_rss_first.json" /rss_bytes)"
RSS_TOTAL="$(val "$J/mem_rss_total.json" /rss_bytes)"
# Growth is judged on Pss, which counts the pages the worker and its codec processes share (the
# libraries) once: summed RSS would count them once per process, inflating the base and so
# shrinking the growth.
PSS_FIRST="$(val "$J/mem_rss_first.json" /pss_bytes)"
PSS_TOTAL="$(val "$J/mem_rss_total.json" /pss_bytes)"
GROWTH="$(fmt "%.1f" "($PSS_FIRST == 0) ? 0 : 100 * ($PSS_TOTAL - $PSS_FIRST) / $PSS_FIRST")"
RSS_GROWTH="$(fmt "%.1f" "($RSS_FIRST == 0) ? 0 : 100 * ($RSS_TOTAL - $RSS_FIRST) / $RSS_FIRST")"
# The peak, judged like the growth on Pss: the largest sum of Pss sampled at one instant (every
# 10 ms), the memory the worker's processes hold between them, each shared page once. Beside it
# the summed-RSS peak: per process the largest VmHWM seen, summed (an upper bound when the codec
# runs in child processes whose peaks need not coincide, with every shared library counted once
# per process), or the largest simultaneous sum sampled, if higher.
PEAK_HWM="$(val "$J/mem_peak.json" /watch/hwm_sum_bytes)"
PEAK_SAMPLED="$(val "$J/mem_peak.json" /watch/peak_rss_sum_bytes)"
PEAK_RSS="$(fmt "%d" "($PEAK_HWM > $PEAK_SAMPLED) ? $PEAK_HWM : $PEAK_SAMPLED")"
PEAK="$(val "$J/mem_peak.json" /watch/peak_pss_sum_bytes)"
MEM_RUNS_OK="$(val "$J/mem_first.json" /all_succeeded)/$(val "$J/mem_rest.json" /all_succeeded)/$(val "$J/mem_peak.json" /all_succeeded)"
OVERLAP="$(val "$J/mem_peak.json" /max_jobs_running_at_once)"
GROWTH_MET="not met"
if holds "$PSS_FIRST > 0 && $GROWTH <= 10" && [ "$MEM_RUNS_OK" = true/true/true ]; then GROWTH_MET="met"; fi
PEAK_MET="not met"
if [ "$OVERLAP" != 2 ]; then
  PEAK_MET="not measured (the two jobs did not run at the same time)"
elif holds "$PEAK <= 300 * 1048576"; then
  PEAK_MET="met"
fi
cat >"$OUT/memory.md" <<EOF
## Memory (target 4)
$SMOKE_NOTE$PARTIAL_NOTE
**Target:** worker RSS after 5,000 jobs within 10% of its RSS after 500 (no growth); peak RSS with two
20 MP jobs in flight reported and ≤ **300 MiB**.

**Result: growth $GROWTH_MET, peak $PEAK_MET.** Memory (Pss) after $MEM_FIRST jobs **$(mib "$PSS_FIRST") MiB**, after $MEM_TOTAL
**$(mib "$PSS_TOTAL") MiB** ($GROWTH%). Peak with two $LARGEST jobs in flight: **$(mib "$PEAK") MiB** of Pss
($(mib "$PEAK_RSS") MiB of RSS summed over the processes).

A worker's memory here is the sum over the worker process and its codec child processes, read from
\`/proc\`. Both targets are judged on Pss (from \`smaps_rollup\`: shared pages divided among the
processes sharing them, so the libraries the worker's processes map count once, as they occupy
memory once): for the growth, read after the runs; for the peak, the largest sum sampled at one instant,
every 10 ms. Summed VmRSS, which counts each shared library once per process, is shown beside
each; for the peak, per process the largest VmHWM seen, summed (an
upper bound: their peaks need not coincide), or the largest sum of VmRSS sampled at one instant
if that is higher.

| | |
|---|---|
| growth run | one worker (\`worker.concurrency\` default, here $MEM_CONCURRENCY), $MEM_TOTAL $JOBS_TEXT ($NPHOTOS photos: $PHOTOS); RSS read $SETTLE_S s after the $MEM_FIRST-th and after the $MEM_TOTAL-th job \`Succeeded\` |
| RSS after $MEM_FIRST jobs | $(mib "$RSS_FIRST") MiB ($(val "$J/mem_rss_first.json" /processes) processes; VmHWM so far $(mib "$(val "$J/mem_rss_first.json" /hwm_bytes)") MiB) |
| RSS after $MEM_TOTAL jobs | $(mib "$RSS_TOTAL") MiB ($(val "$J/mem_rss_total.json" /processes) processes; VmHWM so far $(mib "$(val "$J/mem_rss_total.json" /hwm_bytes)") MiB) |
| Pss after $MEM_FIRST / after $MEM_TOTAL jobs | $(mib "$PSS_FIRST") / $(mib "$PSS_TOTAL") MiB |
| growth | $GROWTH% of Pss (target ≤ 10%); of summed RSS $RSS_GROWTH% |
| peak run | a fresh worker with \`worker.concurrency\` 2; two jobs on $LARGEST at full size (a mirror, then JPEG at quality 50 and 51), submitted together |
| jobs running at once (by their records' \`startedAt\`/\`finishedAt\`) | $OVERLAP |
| RSS before the two jobs | $(mib "$(val "$J/mem_peak_idle.json" /rss_bytes)") MiB |
| peak | **$(mib "$PEAK") MiB** of Pss (target ≤ 300 MiB); of RSS $(mib "$PEAK_RSS") MiB (summed VmHWM $(mib "$PEAK_HWM") MiB over $(val "$J/mem_peak.json" /watch/processes_seen) processes; largest sampled sum $(mib "$PEAK_SAMPLED") MiB) |
| RSS after the two jobs | $(mib "$(val "$J/mem_peak_after.json" /rss_bytes)") MiB |
| all jobs \`Succeeded\` (first $MEM_FIRST / the rest / peak) | $MEM_RUNS_OK |
EOF

fi

# ============================================================================================
# Target 5: scaling
# ============================================================================================
if want scaling; then
scale_run() { # scale_run WORKERS [shared]: SCALE_JOBS jobs with WORKERS workers, one CPU each
  local n=$1 shared=${2:-} name="scale$1${2:+_$2}" watch=() i
  log "scaling: $n worker(s), ${shared:+not pinned}${shared:-one CPU each}"
  start_system "$name"
  NEXT=0
  upload "$WORK/photos.txt" "$J/${name}_photos.json"
  for i in $(seq "$n"); do
    if [ -n "$shared" ]; then start_worker "worker-$i" 1; else start_worker "worker-$i" 1 "$((i - 1))"; fi
  done
  wait_workers
  take "$WARMUP_JOBS"
  "$LOAD" run --url "$URL" --photos "$J/${name}_photos.json" --jobs "$WARMUP_JOBS" \
    --first "$FIRST" --concurrency 4 --out "$J/${name}_warmup.json"
  take "$SCALE_JOBS"
  for i in "${WORKER_PIDS[@]}"; do watch+=(--watch "$i"); done
  # CPU only: a sample each second (each one walks /proc and reads smaps_rollup, in the kernel).
  "$LOAD" run --url "$URL" --photos "$J/${name}_photos.json" --jobs "$SCALE_JOBS" \
    --first "$FIRST" --concurrency "$CLIENTS" "${watch[@]}" --watch-interval-ms 1000 \
    --out "$J/$name.json"
  stop_system
}
scale_run 1
scale_run 2
# The same, the workers not pinned: each takes both cores for its CPU limit (OpenCV gets 2 threads).
scale_run 1 shared
scale_run 2 shared
"$LOAD" merge one_worker="$J/scale1.json" two_workers="$J/scale2.json" \
  one_worker_not_pinned="$J/scale1_shared.json" two_workers_not_pinned="$J/scale2_shared.json" \
  >"$OUT/scaling.json"
# Judged on the rate while every worker had jobs (load.cc ByWorker): the batch splits over the
# workers by a hash of random job ids, and the tail one worker runs alone measures that split.
S1="$(val "$J/scale1.json" /by_worker/all_busy/jobs_per_s)"
S2="$(val "$J/scale2.json" /by_worker/all_busy/jobs_per_s)"
W1="$(val "$J/scale1.json" /throughput_jobs_per_s)"
W2="$(val "$J/scale2.json" /throughput_jobs_per_s)"
SCALE_RATIO="$(ratio "$S2" "$S1")"
WHOLE_RATIO="$(ratio "$W2" "$W1")"
SCALE_OK="$(val "$J/scale1.json" /all_succeeded)/$(val "$J/scale2.json" /all_succeeded)"
SCALE_MET="not met"
if holds "$SCALE_RATIO >= 1.8" && [ "$SCALE_OK" = true/true ]; then SCALE_MET="met"; fi
worker_cores() { # total cores used by the watched workers of a run
  ratio "$(val "$1" /watch/cpu_seconds)" "$(val "$1" /watch/wall_seconds)"
}
cpu_per_job() { fmt "%.0f" "$(ratio "1000 * $(val "$1" /watch/cpu_seconds)" "$(val "$1" /succeeded)")"; }
busy() { # busy RUN.json: the jobs and seconds of the window while every worker had jobs
  echo "$(val "$1" /by_worker/all_busy/jobs) jobs in $(fmt "%.1f" "$(val "$1" /by_worker/all_busy/seconds)") s"
}
shares() { # shares RUN.json: how many jobs each worker ran, "a / b"
  flat "$1"
  awk -F'\t' '$1 ~ "^/by_worker/workers/[^/]+/jobs$" { printf "%s%s", sep, $2; sep = " / " }' "$1.flat"
}
cat >"$OUT/scaling.md" <<EOF
## Scaling (target 5)
$SMOKE_NOTE$PARTIAL_NOTE
**Target:** throughput with two workers ≥ **1.8×** one worker on two cores (pipeline-bound jobs).

**Result: $SCALE_MET.** While every worker had jobs: one worker **$(fmt "%.2f" "$S1") jobs/s**, two
workers **$(fmt "%.2f" "$S2") jobs/s**: **$SCALE_RATIO×** (target ≥ 1.8). Over the whole batch, from
the first submission to the last \`Succeeded\`: $(fmt "%.2f" "$W1") and $(fmt "%.2f" "$W2") jobs/s, **$WHOLE_RATIO×**.

Each worker has one CPU: it runs pinned to a core of its own (\`taskset -c\`), which it reads as
its CPU limit (as it would a Kubernetes CPU limit of 1), so it runs one pipeline at a time
(\`worker.concurrency\` 1, \`PIXQ_WORKER_CONCURRENCY=1\`, with one job more in hand) with OpenCV on one thread. This is adding
a worker as a deployment adds one, with its own CPU; \`pixq-devbroker\`, \`pixq-api\` and the load
client are not pinned and share the cores. Each run has a fresh \`pixq-devbroker\` ($PARTITIONS partitions)
and \`pixq-api\`; the same $SCALE_JOBS jobs ($JOBS_TEXT; $NPHOTOS photos) are submitted at once by
$CLIENTS HTTP clients and counted until every one is \`Succeeded\`.

Why two rates: the jobs spread over the partitions, and so over the workers, by a hash of their
random ids, and the photos differ in cost, so one worker usually runs out of jobs first and the
other ends the batch alone. That tail measures how the batch happened to split (the jobs each worker
ran, below), not what two workers sustain. The judged rate counts, by the workers' own
\`finishedAt\` stamps, the jobs that finished from the batch's first finish until the first worker
finished its last job; with one worker that is its whole batch but for the submission before the
first finish and the long-poll after the last.

| | one worker | two workers |
|---|---|---|
| jobs/s while every worker had jobs | $(fmt "%.2f" "$S1") ($(busy "$J/scale1.json")) | $(fmt "%.2f" "$S2") ($(busy "$J/scale2.json")) |
| jobs/s over the whole batch | $(fmt "%.2f" "$W1") | $(fmt "%.2f" "$W2") |
| first submission to last \`Succeeded\` | $(fmt "%.1f" "$(val "$J/scale1.json" /wall_seconds)") s | $(fmt "%.1f" "$(val "$J/scale2.json" /wall_seconds)") s |
| jobs each worker ran | $(shares "$J/scale1.json") | $(shares "$J/scale2.json") |
| CPU used by the workers over the whole batch (cores, of $CORES) | $(worker_cores "$J/scale1.json") | $(worker_cores "$J/scale2.json") |
| worker CPU per job | $(cpu_per_job "$J/scale1.json") ms | $(cpu_per_job "$J/scale2.json") ms |
| CPU used by the load client (cores; it submits and long-polls, on the same machine) | $(ratio "$(val "$J/scale1.json" /client_cpu_seconds)" "$(val "$J/scale1.json" /watch/wall_seconds)") | $(ratio "$(val "$J/scale2.json" /client_cpu_seconds)" "$(val "$J/scale2.json" /watch/wall_seconds)") |
| all \`Succeeded\` | $(val "$J/scale1.json" /all_succeeded) | $(val "$J/scale2.json" /all_succeeded) |

Not pinned (not what the target is judged on): each worker sees both cores as its CPU limit, so a
lone worker with concurrency 1 gives OpenCV two threads and uses the second core inside some of its
operations, and two workers run four OpenCV threads on two cores. While every worker had jobs, one
worker **$(fmt "%.2f" "$(val "$J/scale1_shared.json" /by_worker/all_busy/jobs_per_s)") jobs/s**, two workers
**$(fmt "%.2f" "$(val "$J/scale2_shared.json" /by_worker/all_busy/jobs_per_s)") jobs/s**:
**$(ratio "$(val "$J/scale2_shared.json" /by_worker/all_busy/jobs_per_s)" "$(val "$J/scale1_shared.json" /by_worker/all_busy/jobs_per_s)")×**. Over the whole batch
$(fmt "%.2f" "$(val "$J/scale1_shared.json" /throughput_jobs_per_s)") jobs/s ($(worker_cores "$J/scale1_shared.json") cores) and
$(fmt "%.2f" "$(val "$J/scale2_shared.json" /throughput_jobs_per_s)") jobs/s ($(worker_cores "$J/scale2_shared.json") cores); jobs each worker ran: $(shares "$J/scale2_shared.json"); all \`Succeeded\`: $(val "$J/scale1_shared.json" /all_succeeded)/$(val "$J/scale2_shared.json" /all_succeeded).
EOF

fi

# ============================================================================================
# Issue 16: jobs picked up at once
# ============================================================================================
if want pickup; then
log "pickup: an idle system's CPU over $IDLE_S s, then the README's first job"
# The README's photo, from Debian's wallpapers like the others.
README_PHOTO="$(printf '%s\n' "${CANDIDATES[@]}" | grep '/Kleiber_by_Lukas_Baubkus\.jpg$' | head -1 || true)"
[ -n "$README_PHOTO" ] || fail "Kleiber_by_Lukas_Baubkus.jpg is missing (the README's photo: scripts/setup.sh --bench)"
PICKUP_MACHINE="$(machine_state)"
start_system pickup
start_worker worker-1
start_worker worker-2
wait_workers
PICKUP_NAMES=(pixq-devbroker pixq-api worker-1 worker-2)
PICKUP_PIDS=("$BROKER_PID" "$API_PID" "${WORKER_PIDS[0]}" "${WORKER_PIDS[1]}")
pickup_cpu() {
  local args=() pid
  for pid in "${PICKUP_PIDS[@]}"; do args+=(--pid "$pid"); done
  "$LOAD" cpu "${args[@]}"
}
mapfile -t IDLE_CPU0 < <(pickup_cpu)
IDLE_M0="$(machine_ticks)"
IDLE_T0="$(date +%s%N)"
sleep "$IDLE_S"
mapfile -t IDLE_CPU1 < <(pickup_cpu)
IDLE_M1="$(machine_ticks)"
IDLE_WALL="$(fmt "%.3f" "($(date +%s%N) - $IDLE_T0) / 1e9")"
IDLE_BUSY="$(busy_between "$IDLE_M0" "$IDLE_M1")"
IDLE_ROWS=""
IDLE_JSON=""
IDLE_TOTAL=0
for i in "${!PICKUP_NAMES[@]}"; do
  used="$(fmt "%.3f" "${IDLE_CPU1[$i]} - ${IDLE_CPU0[$i]}")"
  IDLE_TOTAL="$(fmt "%.3f" "$IDLE_TOTAL + $used")"
  IDLE_ROWS+="| ${PICKUP_NAMES[$i]} | $used | $(fmt "%.2f" "100 * $used / $IDLE_WALL") |"$'\n'
  IDLE_JSON+="${IDLE_JSON:+,}\"${PICKUP_NAMES[$i]}\":{\"cpu_seconds\":$used,\"percent_of_a_core\":$(fmt "%.3f" "100 * $used / $IDLE_WALL")}"
done

# The README's walkthrough: upload the photo, then its job (the first exactly, the others with
# another quality each, so none is a cache hit), each on the idle system, long-polled until it
# ends. createdAt is stamped by pixq-api, startedAt and finishedAt by the worker, on one clock.
curl -fs --noproxy '*' -F image=@"$README_PHOTO" -F title=Kleiber "$URL/v1/images" \
  >"$J/pickup_image.json" || fail "upload failed" "$SYS_DIR/api.log"
README_IMAGE="$(val "$J/pickup_image.json" /id)"
ms_of() { date -u -d "$1" +%s%3N; }
FIRST_ROWS=""
FIRST_JSON=""
for k in $(seq 0 $((FIRST_JOBS - 1))); do
  sleep 2  # idle again: every consumer back to waiting on an empty fetch
  spec='{"source": {"imageId": "'"$README_IMAGE"'"}, "steps": [{"op": "resize", "width": 800, "height": 800, "fit": "inside"}, {"op": "grayscale"}], "output": {"format": "webp", "quality": '$((80 + k))'}}'
  t_submit="$(date +%s%3N)"
  code="$(curl -s --noproxy '*' -o "$J/pickup_job_$k.json" -w '%{http_code}' \
    -H 'Content-Type: application/json' -d "$spec" "$URL/v1/jobs")"
  [ "$code" = 202 ] || fail "the README's job answered $code, not 202" "$J/pickup_job_$k.json"
  job="$(val "$J/pickup_job_$k.json" /metadata/id)"
  # The long-poll answers at each change of phase; the time is taken as soon as an answer says
  # the job ended (grep, not a process that parses JSON, which would add its own start-up).
  t_seen=""
  for _ in $(seq 30); do
    curl -fs --noproxy '*' -o "$J/pickup_done_$k.json" "$URL/v1/jobs/$job?wait=10s" ||
      fail "GET /v1/jobs/$job failed" "$SYS_DIR/api.log"
    if grep -qE '"phase": ?"(Succeeded|Failed)"' "$J/pickup_done_$k.json"; then
      t_seen="$(date +%s%3N)"
      break
    fi
  done
  [ -n "$t_seen" ] || fail "the README's job did not end" "$J/pickup_done_$k.json"
  phase="$(val "$J/pickup_done_$k.json" /status/phase)"
  [ "$phase" = Succeeded ] || fail "the README's job ended $phase" "$J/pickup_done_$k.json"
  created="$(ms_of "$(val "$J/pickup_done_$k.json" /metadata/createdAt)")"
  started="$(ms_of "$(val "$J/pickup_done_$k.json" /status/startedAt)")"
  finished="$(ms_of "$(val "$J/pickup_done_$k.json" /status/finishedAt)")"
  FIRST_ROWS+="| $((k + 1)) | $((80 + k)) | $((started - created)) | $((finished - started)) | $((t_seen - t_submit)) |"$'\n'
  FIRST_JSON+="${FIRST_JSON:+,}{\"quality\":$((80 + k)),\"created_to_started_ms\":$((started - created)),\"started_to_finished_ms\":$((finished - started)),\"submitted_to_seen_ms\":$((t_seen - t_submit))}"
done
stop_system

median_col() { # median_col N: the median of column N of FIRST_ROWS
  printf '%s' "$FIRST_ROWS" | awk -F'|' -v c="$1" '{ gsub(/ /, "", $c); print $c }' | sort -n |
    awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# "Within milliseconds", read as: the median job started within 50 ms of its createdAt.
PICKUP_MS="$(median_col 4)"
PICKUP_MET="not met"
if holds "$PICKUP_MS <= 50"; then PICKUP_MET="met"; fi
printf '{"kafka_properties":"%s","idle":{"seconds":%s,"machine_busy_percent":%s,"processes":{%s}},"first_jobs":[%s]}\n' \
  "$KAFKA_PROPERTIES" "$IDLE_WALL" "$IDLE_BUSY" "$IDLE_JSON" "$FIRST_JSON" >"$OUT/pickup.json"
cat >"$OUT/pickup.md" <<EOF
## Pickup (issue 16)
$SMOKE_NOTE$PARTIAL_NOTE
**Target:** a job starts within milliseconds of being accepted (here: the median job's \`startedAt\`
at most **50 ms** after its \`createdAt\`), and its \`Succeeded\` reaches the API as fast; what
that costs an idle system.

**Result: $PICKUP_MET.** On an idle system the README's job went from \`createdAt\` to \`startedAt\` in
**$PICKUP_MS ms** and from submission to \`Succeeded\` seen by the client in **$(median_col 6) ms** (medians of
$FIRST_JOBS jobs); idle, \`pixq-devbroker\`, \`pixq-api\` and two workers used **$(fmt "%.2f" "100 * $IDLE_TOTAL / $IDLE_WALL")%** of a core together.

Idle: \`pixq-devbroker\` ($PARTITIONS partitions), \`pixq-api\` and two workers, started and settled, no request for
$(fmt "%.1f" "$IDLE_WALL") s; CPU of each process tree from \`/proc/<pid>/stat\` (user + system, children included).
The whole machine was $IDLE_BUSY% busy meanwhile (other processes included).

| process | CPU seconds | % of a core |
|---|--:|--:|
$IDLE_ROWS
Then the README's walkthrough on the same system: \`Kleiber_by_Lukas_Baubkus.jpg\` uploaded, and its
job (resize into 800×800, grayscale, WebP) submitted $FIRST_JOBS times, 2 s apart, each with its
own quality so that none is a cache hit, and long-polled (\`?wait=10s\`) until \`Succeeded\`.
\`createdAt\` is stamped by \`pixq-api\`, \`startedAt\` and \`finishedAt\` by the worker (one clock);
the last column is the client's own, from sending the POST to reading \`Succeeded\`.

| job | quality | createdAt → startedAt ms | startedAt → finishedAt ms | submitted → \`Succeeded\` seen ms |
|--:|--:|--:|--:|--:|
$FIRST_ROWS
Kafka clients: $PROPS_TEXT. Machine just before this part: $PICKUP_MACHINE.
EOF
fi

# docs/scaling.md: only the block between the markers, and only from a full run into bench/results.
if [ "$UPDATE_DOCS" = 1 ]; then
  BEGIN='<!-- bench:figures:begin -->'
  END='<!-- bench:figures:end -->'
  {
    echo "| figure (\`bench/system/run.sh\`, $(date -u +%F), $CORES cores) | value |"
    echo "|---|---|"
    echo "| one worker, one CPU, while it had jobs | $(fmt "%.2f" "$S1") jobs/s |"
    echo "| two workers, one CPU each, while both had jobs | $(fmt "%.2f" "$S2") jobs/s ($SCALE_RATIO×; target ≥ 1.8: $SCALE_MET) |"
    echo "| one and two workers over a whole batch of $SCALE_JOBS jobs (two workers ran $(shares "$J/scale2.json") of them) | $(fmt "%.2f" "$W1") and $(fmt "%.2f" "$W2") jobs/s ($WHOLE_RATIO×) |"
    echo "| two workers, default concurrency, end to end | $(fmt "%.2f" "$E2E_RATE") jobs/s ($E2E_RATIO× the bare pipeline in 2 processes) |"
    echo "| job latency at half that load, p50 / p99 | $(fmt "%.0f" "$(val "$J/e2e_latency.json" /latency_ms/p50)") / $(fmt "%.0f" "$(val "$J/e2e_latency.json" /latency_ms/p99)") ms |"
    echo "| one API replica: POST /v1/jobs, GET /v1/jobs/{id} | $POST_RPS/s (p99 $POST_P99 ms), $GET_RPS/s (p99 $GET_P99 ms) |"
    echo "| worker memory (Pss) after $MEM_FIRST / $MEM_TOTAL jobs | $(mib "$PSS_FIRST") / $(mib "$PSS_TOTAL") MiB ($GROWTH%; summed RSS $(mib "$RSS_FIRST") / $(mib "$RSS_TOTAL") MiB) |"
    echo "| worker peak memory, two 20 MP jobs in flight | $(mib "$PEAK") MiB of Pss ($(mib "$PEAK_RSS") MiB of RSS summed over its processes) |"
  } >"$WORK/figures.md"
  DOC="$REPO/docs/scaling.md"
  if ! grep -qF "$BEGIN" "$DOC" || ! grep -qF "$END" "$DOC"; then
    fail "docs/scaling.md lacks the figures markers"
  fi
  awk -v begin="$BEGIN" -v end="$END" -v figures="$WORK/figures.md" '
    $0 == begin { print; while ((getline line < figures) > 0) print line; skip = 1; next }
    $0 == end { skip = 0 }
    !skip { print }' "$DOC" >"$WORK/scaling.md.new"
  mv "$WORK/scaling.md.new" "$DOC"
fi

if [ -s "$WORK/missing.txt" ]; then
  fail "values missing from the measurements (shown as MISSING): $(sort -u "$WORK/missing.txt" | paste -sd';' -)"
fi
finished=1
log "done: $OUT/{${PARTS}}.md"
