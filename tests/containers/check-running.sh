#!/usr/bin/env bash
# pixq's images, run from the chart's own manifests in podman (scripts/containers.sh up), checked
# as a cluster operator would check them:
#   - the chart's `helm test` script (upload, job, wait, download) passes, run from its rendered Pod;
#   - every pixq container runs as a non-root user, cannot write its root file system, holds no
#     capabilities, cannot gain privileges, is under seccomp, and answers its probes (path and
#     port as the chart declares them);
#   - `--check-config` passes inside each image, with the rendered ConfigMap and the pod's
#     environment from the Secret;
#   - the retention CronJob's pod (`pixq-worker sweep`) runs once and exits 0;
#   - a worker container killed (SIGKILL) mid-job is restarted, and the job still ends Succeeded;
#   - the workers scaled from 1 to 2 (a second pod from the Deployment's template) both take jobs.
# Exits non-zero on any failure; removes everything it started on exit (PIXQ_KEEP=1 leaves it
# running). Needs the images: scripts/containers.sh build (or check, which builds and runs this).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
containers="$root/scripts/containers.sh"
work="$root/var/containers"
export CONTAINERS_CONF="$root/deploy/docker/containers.conf"
name=pixq-ctr

if [ "${PIXQ_KEEP:-}" != 1 ]; then trap '"$containers" down' EXIT; fi
started=$SECONDS
"$containers" up
up_s=$((SECONDS - started))
# shellcheck disable=SC1091
. "$work/state.env"

passed=0
failed=0
pass() {
  echo "PASS: $*"
  passed=$((passed + 1))
}
fail() {
  echo "FAIL: $*" >&2
  failed=$((failed + 1))
}
api="http://$API_IP:$HTTP_PORT"
key="$(node -e 'console.log(Buffer.from(require(process.argv[1])["api-key"], "base64").toString())' \
  "$work/manifests/secret.json")"
call() { curl -sS --max-time 70 -H "X-API-Key: $key" "$@"; }
# A field of a JSON document on stdin: json .status.phase
json() { node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
  let v = JSON.parse(s); for (const k of process.argv[1].split(".").filter(Boolean)) v = v?.[k];
  console.log(v ?? ""); })' "$1"; }
probes() { node -e 'const p = require(process.argv[1])[process.argv[2]];
  for (const x of p.probes) console.log(`${x.kind} ${x.path} ${x.port}`)' "$work/manifests/probes.json" "$1"; }
pod_ip() {
  podman inspect "$(podman pod inspect "$1" --format '{{.InfraContainerID}}')" \
    --format "{{(index .NetworkSettings.Networks \"$name\").IPAddress}}"
}

# The containers' security, read from the kernel (/proc of the container's main process) and
# tried from inside: <container> <component>
check_security() {
  local c="$1" component="$2" pid status uid caps
  pid="$(podman inspect "$c" --format '{{.State.Pid}}')"
  status="$(cat "/proc/$pid/status")"
  uid="$(awk '/^Uid:/{print $2, $3, $4, $5}' <<<"$status")"
  if [ "$uid" = "10001 10001 10001 10001" ] && [ "$(awk '/^Gid:/{print $2}' <<<"$status")" = 10001 ]; then
    pass "$c runs as uid/gid 10001 (runAsUser, runAsGroup), not root"
  else
    fail "$c runs as uid $uid"
  fi
  caps="$(awk '/^Cap(Inh|Prm|Eff|Bnd|Amb):/{printf "%s%s ", $1, $2}' <<<"$status")"
  if [ "$(grep -o ':0000000000000000' <<<"$caps" | wc -l)" = 5 ]; then
    pass "$c has no capabilities (drop: [ALL]): all five sets empty"
  else
    fail "$c has capabilities: $caps"
  fi
  grep -q '^NoNewPrivs:[[:space:]]*1' <<<"$status" && pass "$c cannot gain privileges (allowPrivilegeEscalation: false)" ||
    fail "$c may gain privileges: $(grep NoNewPrivs <<<"$status")"
  grep -q '^Seccomp:[[:space:]]*2' <<<"$status" && pass "$c runs under a seccomp filter (RuntimeDefault)" ||
    fail "$c has no seccomp filter: $(grep '^Seccomp:' <<<"$status")"
  # Even root, inside, cannot write the root file system: it is mounted read-only.
  local out
  if out="$(podman exec --user 0 "$c" /usr/bin/touch /written 2>&1)"; then
    fail "$c: root wrote /written: the root file system is writable"
  elif grep -q 'Read-only file system' <<<"$out"; then
    pass "$c cannot write its root file system (readOnlyRootFilesystem): $out"
  else
    fail "$c: writing / failed for another reason: $out"
  fi
  if podman exec "$c" /bin/sh -c '/usr/bin/touch /tmp/.w /var/lib/pixq/.w && /bin/rm /tmp/.w /var/lib/pixq/.w' 2>&1; then
    pass "$c writes its emptyDir /tmp and the claim's /var/lib/pixq"
  else
    fail "$c cannot write /tmp or /var/lib/pixq"
  fi
  # --check-config as the pod runs the binary: its args (the rendered ConfigMap's file), its
  # environment (the Secret's values).
  local binary
  binary="$(podman inspect "$c" --format '{{.Config.Entrypoint}}')"
  if out="$(podman exec "$c" "$binary" --config /etc/pixq/pixq.yaml --check-config 2>&1)"; then
    pass "$c: $binary --config /etc/pixq/pixq.yaml --check-config: ${out:-ok}"
  else
    fail "$c: --check-config refused the rendered ConfigMap: $out"
  fi
  # The probes, at the paths and ports the Deployment declares.
  local ip kind path port code
  ip="$(pod_ip "${c%-"$component"}")"
  while read -r kind path port; do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$ip:$port$path")"
    [ "$code" = 200 ] && pass "$c answers its $kind: GET :$port$path 200" ||
      fail "$c: $kind GET :$port$path answered $code"
  done < <(probes "$component")
}

# Submits a job on <image id> with <steps JSON>; prints its id.
submit() {
  local spec='{"source":{"imageId":"'"$1"'"},"steps":'"$2"',"output":{"format":"jpeg"}}'
  call -H 'Content-Type: application/json' -d "$spec" "$api/v1/jobs" | json metadata.id
}
# Waits (long-polls) until the job ends, for at most <seconds>; prints its final status JSON.
await_job() {
  local job="$1" seconds="$2" t0=$SECONDS status
  while :; do
    status="$(call "$api/v1/jobs/$job?wait=10s")"
    case "$(json status.phase <<<"$status")" in
      Succeeded | Failed) break ;;
    esac
    [ $((SECONDS - t0)) -lt "$seconds" ] || break
  done
  echo "$status"
}
jobs_completed() {
  curl -fs --max-time 3 "http://$1:$WORKER_PORT/metrics" |
    awk '/^pixq_jobs_completed_total/{n += $NF} END{printf "%d", n}'
}

echo "== up in ${up_s}s: $(podman pod ls --format '{{.Name}}' | grep "^$name" | sort | tr '\n' ' ')"

echo "== the containers as the chart configures them"
api_c="$API_POD-api"
worker_c="${WORKER_PODS%% *}-worker"
check_security "$api_c" api
check_security "$worker_c" worker

echo "== the chart's helm test Pod"
t0=$SECONDS
sed "s/HOST_ALIAS_IP/$API_IP/" "$work/manifests/test-pod.yaml" >"$work/manifests/test-pod.run.yaml"
podman kube play --network "$name" "$work/manifests/test-pod.run.yaml" >/dev/null
test_c="$name-test-upload-and-process"
code="$(podman wait "$test_c")"
out="$(podman logs "$test_c" 2>&1)"
if [ "$code" = 0 ] && grep -q '^OK: job j_.* succeeded' <<<"$out"; then
  pass "helm test ($(podman inspect "$test_c" --format '{{.Config.User}}'), $((SECONDS - t0)) s): $out"
else
  fail "helm test exited $code: $out"
fi

echo "== the retention CronJob's pod (pixq-worker sweep), once"
if [ -f "$work/manifests/sweep-pod.yaml" ]; then
  t0=$SECONDS
  sweep_pod="$("$containers" play "$work/manifests/sweep-pod.yaml" | head -1)"
  sweep_c="$(podman ps -a --filter "pod=$sweep_pod" --format '{{.Names}}' | grep -v -e -infra -e -kafka-forward | head -1)"
  code="$(podman wait "$sweep_c")"
  out="$(podman logs "$sweep_c" 2>&1 | grep '"sweep done"' || true)"
  if [ "$code" = 0 ] && [ -n "$out" ]; then
    pass "$sweep_c exited 0 in $((SECONDS - t0)) s: $out"
  else
    fail "$sweep_c exited $code: $(podman logs "$sweep_c" 2>&1 | tail -5)"
  fi
fi

echo "== a worker killed mid-job"
photo="$(find /usr/share/backgrounds -name '*.jpg' -size +1M 2>/dev/null | sort | head -1)"
if [ -z "$photo" ]; then
  fail "no photograph under /usr/share/backgrounds (scripts/setup.sh installs them) for a long job"
else
  image="$(call -F "image=@$photo" "$api/v1/images" | json id)"
  # Seconds of work (within the chart's 30 s per stage): the photograph enlarged to ~19 MP and
  # blurred, with every kind of step
  # (so that the worker image is seen to hold every library a job needs).
  steps='[{"op":"resize","width":5000,"upscale":true},{"op":"rotate","degrees":90},{"op":"blur","sigma":10},{"op":"sharpen","sigma":4,"amount":2},{"op":"crop","width":3000,"height":4000},{"op":"mirror"},{"op":"flip"},{"op":"grayscale"}]'
  job="$(submit "$image" "$steps")"
  phase=""
  for _ in $(seq 200); do
    phase="$(call "$api/v1/jobs/$job" | json status.phase)"
    [ "$phase" = Pending ] || break
    sleep 0.1
  done
  restarts_before="$(podman inspect "$worker_c" --format '{{.RestartCount}}')"
  policy="$(podman inspect "$worker_c" --format '{{.HostConfig.RestartPolicy.Name}}')"
  if [ "$phase" != Running ]; then
    fail "job $job was $phase, not Running, when the worker was to be killed (too short a job?)"
  else
    t0=$SECONDS
    # As the kernel's OOM killer or a crash would: SIGKILL to the container's process, from
    # outside (`podman kill` counts as stopped by the user, and podman then does not restart).
    kill -KILL "$(podman inspect "$worker_c" --format '{{.State.Pid}}')"
    status="$(await_job "$job" 240)"
    restarts="$(podman inspect "$worker_c" --format '{{.RestartCount}}')"
    if [ "$(json status.phase <<<"$status")" = Succeeded ] && [ "$restarts" -gt "$restarts_before" ]; then
      pass "$worker_c killed (SIGKILL) while job $job was Running; restarted (restartPolicy $policy, restarts $restarts_before -> $restarts), the job Succeeded $((SECONDS - t0)) s later, attempts $(json status.attempts <<<"$status")"
    else
      fail "after the kill: job $job $(json status.phase <<<"$status") ($(json status.reason <<<"$status")), restarts $restarts_before -> $restarts"
    fi
  fi
fi
await_http() { # url seconds
  local t0=$SECONDS
  until curl -fs -o /dev/null --max-time 2 "$1"; do
    [ $((SECONDS - t0)) -lt "$2" ] || return 1
    sleep 0.5
  done
}
await_http "http://$(pod_ip "${WORKER_PODS%% *}"):$WORKER_PORT/readyz" 120 ||
  fail "the killed worker is not ready again after 120 s"

echo "== the workers scaled from 1 to 2"
t0=$SECONDS
second="$name-worker-pod-1"
second_ip="$("$containers" add-worker "$second")"
pass "a second worker pod from the Deployment's template is ready in $((SECONDS - t0)) s"
check_security "$second-worker" worker
first_ip="$(pod_ip "${WORKER_PODS%% *}")"
before_first="$(jobs_completed "$first_ip")"
before_second="$(jobs_completed "$second_ip")"
# Small jobs, each a width never asked before (no cache), until both workers have run some:
# the jobs' keys spread them over the topic's partitions, which the group shares between them.
tiny="$(printf '%s' 'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAFklEQVR42mM4ISdHEmIY1TCqYfhqAADkYgQQ6ZuA8QAAAABJRU5ErkJggg==' | base64 -d >"$work/tiny.png" && call -F "image=@$work/tiny.png" "$api/v1/images" | json id)"
submitted=0
base_width=$((100 + $(date +%s) % 5000))
for round in 1 2 3 4 5; do
  jobs=()
  for i in $(seq 8); do
    jobs+=("$(submit "$tiny" '[{"op":"resize","width":'$((base_width + round * 10 + i))',"upscale":true}]')")
  done
  submitted=$((submitted + 8))
  for job in "${jobs[@]}"; do
    [ "$(await_job "$job" 120 | json status.phase)" = Succeeded ] || fail "job $job did not succeed"
  done
  d_first=$(($(jobs_completed "$first_ip") - before_first))
  d_second=$(($(jobs_completed "$second_ip") - before_second))
  [ "$d_first" -gt 0 ] && [ "$d_second" -gt 0 ] && break
done
if [ "$d_first" -gt 0 ] && [ "$d_second" -gt 0 ]; then
  pass "both workers took jobs: $d_first and $d_second of $submitted (pixq_jobs_completed_total)"
else
  fail "of $submitted jobs the first worker ran $d_first, the second $d_second; their last assignments: $(
    for c in "${WORKER_PODS%% *}-worker" "$second-worker"; do
      podman logs "$c" 2>&1 | grep '"partitions assigned"' | grep '"topic":"[^"]*jobs"' | tail -1 |
        grep -o '"partitions":\[[0-9,]*\]' | tr '\n' ' '
    done)(of pixq.jobs)"
fi

echo "containers: $passed passed, $failed failed (up ${up_s} s, all checks $((SECONDS - started)) s)"
[ "$failed" -eq 0 ]
