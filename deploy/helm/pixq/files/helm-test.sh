# `helm test`: the API answers, takes an upload and a job, a worker runs the job, and the output
# can be downloaded. POSIX sh with curl, sed, base64 and sha256sum (busybox has them all).
set -eu
url="http://${PIXQ_API}"
tmp="${TMPDIR:-/tmp}"
call() {
  if [ -n "${API_KEY:-}" ]; then curl -sS -H "X-API-Key: ${API_KEY}" "$@"; else curl -sS "$@"; fi
}

# Ready (tables loaded, Kafka reachable) within two minutes, and alive.
tries=0
until curl -fs "$url/readyz" >/dev/null; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then echo "FAIL: $url/readyz is not ready after 120 s"; exit 1; fi
  sleep 2
done
curl -fsS "$url/healthz" >/dev/null

if [ -z "${API_KEY:-}" ] && [ "${AUTH_ENABLED}" = "true" ]; then
  # No plain key to use (the Secret holds only hashes): show that one is required, and stop.
  code=$(curl -sS -o /dev/null -w '%{http_code}' "$url/v1/jobs/j_none")
  if [ "$code" != "401" ]; then echo "FAIL: without a key the API answered $code, not 401"; exit 1; fi
  echo "OK: healthy, ready, and a key is required (no api-key in the Secret, so no upload)"
  exit 0
fi

# A 16x16 PNG; its id is its SHA-256.
echo "$TEST_PNG" | base64 -d >"$tmp/pixq-test.png"
image=$(sha256sum "$tmp/pixq-test.png" | cut -d' ' -f1)
code=$(call -o "$tmp/upload.json" -w '%{http_code}' -F "image=@$tmp/pixq-test.png" "$url/v1/images")
case "$code" in 200 | 201) ;; *) echo "FAIL: upload answered $code: $(cat "$tmp/upload.json")"; exit 1 ;; esac

# A width unlikely to have been asked for before, so that a worker runs the job (not the cache).
width=$((17 + $(date +%s) % 4000))
spec='{"source":{"imageId":"'$image'"},"steps":[{"op":"resize","width":'$width',"upscale":true},{"op":"grayscale"}],"output":{"format":"webp"}}'
code=$(call -o "$tmp/job.json" -w '%{http_code}' -H 'Content-Type: application/json' -d "$spec" "$url/v1/jobs")
case "$code" in 201 | 202) ;; *) echo "FAIL: job answered $code: $(cat "$tmp/job.json")"; exit 1 ;; esac
job=$(sed -n 's/.*"id" *: *"\(j_[^"]*\)".*/\1/p' "$tmp/job.json")
if [ -z "$job" ]; then echo "FAIL: no job id in $(cat "$tmp/job.json")"; exit 1; fi

for _ in 1 2 3 4 5 6 7 8 9 10 11 12; do
  call -f -o "$tmp/status.json" "$url/v1/jobs/$job?wait=10s"
  if grep -q '"phase" *: *"Succeeded"' "$tmp/status.json"; then
    code=$(call -o "$tmp/output.webp" -w '%{http_code}' "$url/v1/jobs/$job/output")
    if [ "$code" != "200" ] || [ ! -s "$tmp/output.webp" ]; then
      echo "FAIL: output answered $code"; exit 1
    fi
    echo "OK: job $job succeeded, output $(wc -c <"$tmp/output.webp") bytes"
    exit 0
  fi
  if grep -q '"phase" *: *"Failed"' "$tmp/status.json"; then
    echo "FAIL: job $job failed: $(cat "$tmp/status.json")"; exit 1
  fi
done
echo "FAIL: job $job not done after 120 s: $(cat "$tmp/status.json")"
exit 1
