#!/usr/bin/env bash
# Runs the chart's `helm test` pod script, as `helm template` renders it, against the real
# processes on loopback: pixq-devbroker, and pixq-api and pixq-worker reading the configuration
# file and the Secret the chart renders (only the addresses, ports and storage root overridden
# by environment, as nothing here is a cluster). The script must upload, run a job and download
# its output with the Secret's key, and without a key must find that one is required. Then the
# retention CronJob's container, as rendered (`pixq-worker sweep --config ...`, its environment),
# must sweep what they wrote and exit 0: keeping everything at the chart's default ages, and
# expiring the job record and removing the output at ages of 1 s.
#
#   helm-test-locally.sh <pixq-devbroker> <pixq-api> <pixq-worker>
set -euo pipefail
devbroker="$1" api="$2" worker="$3"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
pids=()
stop() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap stop EXIT

# The rendered chart, split into the files the pods would see.
KUBECONFIG=/dev/null HELM_CACHE_HOME="$work/helm" HELM_CONFIG_HOME="$work/helm" HELM_DATA_HOME="$work/helm" \
  "$here/node_modules/.k8s-tools/helm" template pixq "$here/../../deploy/helm/pixq" \
  -f "$here/../../deploy/helm/pixq/ci/default-values.yaml" >"$work/rendered.yaml"
node --input-type=module -e '
  import { readFileSync, writeFileSync } from "node:fs";
  import { parseDocuments } from "'"$here"'/lib.mjs";
  const [rendered, out] = process.argv.slice(1);
  const docs = parseDocuments(readFileSync(rendered, "utf8"), "chart");
  const cm = docs.find((d) => d.kind === "ConfigMap" && d.data["pixq.yaml"]);
  writeFileSync(`${out}/pixq.yaml`, cm.data["pixq.yaml"]);
  const secret = docs.find((d) => d.kind === "Secret");
  for (const [k, v] of Object.entries(secret.data)) writeFileSync(`${out}/secret-${k}`, Buffer.from(v, "base64"));
  const pod = docs.find((d) => d.kind === "Pod").spec.containers[0];
  writeFileSync(`${out}/test.sh`, pod.command[2]);
  for (const e of pod.env.filter((e) => e.value !== undefined)) writeFileSync(`${out}/env-${e.name}`, e.value);
  const sweep = docs.find((d) => d.kind === "CronJob").spec.jobTemplate.spec.template.spec.containers[0];
  writeFileSync(`${out}/sweep-args`, sweep.args.map((a) => a === "/etc/pixq/pixq.yaml" ? `${out}/pixq.yaml` : a).join("\n"));
  writeFileSync(`${out}/sweep-env`, sweep.env.filter((e) => e.value !== undefined).map((e) => `${e.name}=${e.value}`).join("\n"));
' "$work/rendered.yaml" "$work"

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
http_port="$(free_port)"
worker_port="$(free_port)"
mkdir -p "$work/data"

"$devbroker" --partitions 2 --bootstrap-file "$work/bootstrap" >"$work/devbroker.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/bootstrap" ] && break; sleep 0.1; done
[ -s "$work/bootstrap" ] || { cat "$work/devbroker.log"; echo "FAIL: the local Kafka did not start"; exit 1; }

# What the pods get: the ConfigMap's file and the Secret's values; this machine's addresses.
common=(
  env -i PATH="$PATH"
  PIXQ_KAFKA_BOOTSTRAP_SERVERS="$(cat "$work/bootstrap")"
  PIXQ_STORAGE_ROOT="$work/data"
  PIXQ_AUTH_API_KEY_SHA256="$(cat "$work/secret-api-key-sha256")"
)
"${common[@]}" PIXQ_AUTH_SIGNING_KEY="$(cat "$work/secret-signing-key")" PIXQ_HTTP_ADDRESS=127.0.0.1 \
  PIXQ_HTTP_PORT="$http_port" "$api" --config "$work/pixq.yaml" >"$work/api.log" 2>&1 &
pids+=($!)
"${common[@]}" PIXQ_WORKER_ADDRESS=127.0.0.1 PIXQ_WORKER_PORT="$worker_port" \
  "$worker" --config "$work/pixq.yaml" >"$work/worker.log" 2>&1 &
pids+=($!)

run_test() {
  env -i PATH="$PATH" TMPDIR="$work" PIXQ_API="127.0.0.1:$http_port" \
    AUTH_ENABLED="$(cat "$work/env-AUTH_ENABLED")" TEST_PNG="$(cat "$work/env-TEST_PNG")" "$@" \
    sh "$work/test.sh"
}
if ! with_key="$(run_test API_KEY="$(cat "$work/secret-api-key")")"; then
  echo "$with_key"
  tail -n 5 "$work/api.log" "$work/worker.log"
  echo "FAIL: the helm test script failed with the Secret's key"
  exit 1
fi
echo "with the Secret's key: $with_key"
grep -q "^OK: job j_.* succeeded" <<<"$with_key" || { echo "FAIL: no job ran"; exit 1; }
without_key="$(run_test)" || { echo "$without_key"; echo "FAIL: the helm test script failed without a key"; exit 1; }
echo "without a key: $without_key"
grep -q "a key is required" <<<"$without_key" || { echo "FAIL: the API did not ask for a key"; exit 1; }

# The retention CronJob's container: its args and plain environment as rendered, the Secret's
# key hashes as for the worker.
mapfile -t sweep_args <"$work/sweep-args"
mapfile -t sweep_env <"$work/sweep-env"
[ "${sweep_args[0]}" = sweep ] || { echo "FAIL: the CronJob does not run sweep: ${sweep_args[*]}"; exit 1; }
# Prints the "sweep done" line (failures go to stderr, as this runs in $(...)).
sweep() {
  "${common[@]}" "${sweep_env[@]}" "$@" "$worker" "${sweep_args[@]}" >"$work/sweep.log" 2>&1 || {
    cat "$work/sweep.log" >&2; echo "FAIL: pixq-worker ${sweep_args[*]} failed" >&2; exit 1; }
  grep '"message":"sweep done"' "$work/sweep.log" ||
    { cat "$work/sweep.log" >&2; echo "FAIL: no \"sweep done\"" >&2; exit 1; }
}
count() { grep -o "\"$1\":[0-9]*" "$work/sweep.log" | head -n 1 | cut -d: -f2; }
outputs="$(find "$work/data/outputs" -type f | wc -l)"
kept="$(sweep)"
echo "sweep at the chart's ages: $kept"
[ "$(count job_records)" -ge 1 ] && [ "$(count job_records_expired)" = 0 ] && [ "$(count outputs_removed)" = 0 ] ||
  { echo "FAIL: the sweep did not see the job, or removed something younger than the retention"; exit 1; }
sleep 2
expired="$(sweep PIXQ_RETENTION_JOB_RECORDS_S=1 PIXQ_RETENTION_OUTPUTS_S=1)"
echo "sweep at ages of 1 s: $expired"
[ "$(count job_records_expired)" -ge 1 ] && [ "$(count outputs_removed)" -ge 1 ] &&
  [ "$(find "$work/data/outputs" -type f | wc -l)" -lt "$outputs" ] ||
  { echo "FAIL: the sweep did not expire the job record and remove the output"; exit 1; }
echo "helm test script and retention sweep against the real processes: 4 passed, 0 failed"
