#!/usr/bin/env bash
# Builds pixq's images from deploy/docker/ and runs pixq in podman from the Helm chart's own
# manifests, as a cluster would run them, beside pixq-devbroker as Kafka.
#
#   scripts/containers.sh base     the Debian 12 base image (debootstrap), when it is missing
#   scripts/containers.sh build    base, then pixq-api and pixq-worker from the real Dockerfiles
#   scripts/containers.sh up       build, then `helm template` | `podman kube play` + devbroker
#   scripts/containers.sh down     removes what `up` started (pods, containers, volume, network)
#   scripts/containers.sh check    build, then tests/containers/check-running.sh: up, the checks
#                                  against the running system, down (CI's call)
#
# Needs podman, runc and debootstrap (scripts/setup.sh installs them), and root:
# debootstrap does, and rootless podman needs subuid ranges that CI machines do not have.
# Environment:
#   PIXQ_IMAGE_TAG    tag of both images (default: the chart's appVersion)
#   PIXQ_NO_CACHE=1   build both images from scratch: no layer cache, no compiler cache
#   PIXQ_KEEP=1       `check` leaves the system running for a look (then run `down`)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
chart="$root/deploy/helm/pixq"
# podman's settings for this kind of machine (runc, lower default ulimits), not the machine's.
export CONTAINERS_CONF="$root/deploy/docker/containers.conf"
tag="${PIXQ_IMAGE_TAG:-$(awk -F'"' '/^appVersion:/{print $2}' "$chart/Chart.yaml")}"
# Everything `up` creates carries this name, so `down` removes exactly that.
name=pixq-ctr
network=pixq-ctr
# Logs and rendered manifests (var/ is not in git).
work="$root/var/containers"

log() { echo "containers: $*" >&2; }
die() {
  echo "containers: $*" >&2
  exit 1
}

# The first URI of the machine's apt sources that serves <suite> (deb822 .sources or one-line
# .list files). The mirror's host is read here, never written into the repository.
apt_uri() {
  local suite="$1" f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$suite" 'BEGIN{RS=""; FS="\n"} {
        types=""; uris=""; suites=""; enabled="yes"
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/) types=$i
          if ($i ~ /^URIs:/) { uris=$i; sub(/^URIs:[ \t]*/, "", uris) }
          if ($i ~ /^Suites:/) suites=$i " "
          if ($i ~ /^Enabled:[ \t]*no/) enabled="no"
        }
        if (enabled == "yes" && types ~ /[ \t]deb([ \t]|$)/ && suites ~ ("[ \t]" suite " ")) {
          split(uris, u, /[ \t]+/); print u[1]
        }
      }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -e 's/\[[^]]*\]//' "$f" | awk -v suite="$suite" '$1 == "deb" && $3 == suite {print $2}'
  done
}

# debian:12-slim, made here since no registry may be reachable: debootstrap's minbase of
# bookworm from the machine's Debian mirror, trimmed as the official slim image is (no docs but
# copyrights, no man pages, no locales) and updated from bookworm-updates and -security. Tagged as
# debian:12-slim and debian:12 (the build stages need only apt from it), so the Dockerfiles stay
# those a registry's images build.
make_base() {
  if podman image exists docker.io/library/debian:12-slim &&
    podman image exists docker.io/library/debian:12; then
    return
  fi
  command -v debootstrap >/dev/null || die "debootstrap is missing: scripts/setup.sh"
  local mirror security rootfs started
  mirror="$(apt_uri bookworm | sed -n 1p)"
  security="$(apt_uri bookworm-security | sed -n 1p)"
  [ -n "$mirror" ] || die "no apt source for bookworm in /etc/apt: where is the Debian mirror?"
  started=$SECONDS
  rootfs="$(mktemp -d /var/tmp/pixq-base.XXXXXX)"
  # shellcheck disable=SC2064 # expand now: rootfs is local
  trap "rm -rf '$rootfs'" EXIT
  log "debootstrap --variant=minbase bookworm (the machine's Debian mirror)"
  mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d"
  # What the official slim image leaves out; dpkg applies it to every later install too.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 ||
    die "debootstrap failed; its log: $rootfs.log"
  rm -f "$rootfs.log"
  {
    echo "deb $mirror bookworm main"
    echo "deb $mirror bookworm-updates main"
    [ -z "$security" ] || echo "deb $security bookworm-security main"
  } >"$rootfs/etc/apt/sources.list"
  # As the official images: no translations, and no downloaded .debs left behind.
  echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  log "updating the base from bookworm-updates and bookworm-security"
  chroot "$rootfs" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get -y -qq upgrade' \
    >/dev/null
  # debootstrap unpacked its packages before the path-excludes were read: drop those files now.
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/{man,groff,info,lintian,linda,locale}/* \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old \
    "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/etc/resolv.conf "$rootfs"/etc/hostname
  : >"$rootfs/etc/machine-id"
  # The official image's configuration: its PATH (podman run supplies one when an image has
  # none, kube play does not) and bash as the command.
  tar -C "$rootfs" --numeric-owner -cf - . |
    podman import -q --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["bash"]' - docker.io/library/debian:12-slim >/dev/null
  podman tag docker.io/library/debian:12-slim docker.io/library/debian:12
  rm -rf "$rootfs"
  trap - EXIT
  log "base image made in $((SECONDS - started)) s: $(podman run --rm --network none \
    docker.io/library/debian:12-slim dpkg-query -W | wc -l) packages, $(image_size \
    docker.io/library/debian:12-slim)"
}

# PIXQ_NO_CACHE=1: a build as a fresh machine's, without the layers and the cache mounts earlier
# builds left (buildah keeps cache mounts under /var/tmp/buildah-cache/<id>).
forget_caches() {
  [ "${PIXQ_NO_CACHE:-}" = 1 ] || return 0
  log "PIXQ_NO_CACHE=1: no layer cache, and the ccache and npm cache mounts emptied"
  rm -rf /var/tmp/buildah-cache/pixq-ccache /var/tmp/buildah-cache/pixq-npm
}

# One image from its Dockerfile, the build context being the repository minus what its own
# ignore file leaves out. The log goes to var/containers/; its figures to stderr.
build_image() {
  local what="$1" dockerfile="$root/deploy/docker/$1.Dockerfile" started=$SECONDS
  local args=(--pull=never -f "$dockerfile" --ignorefile "$dockerfile.dockerignore" -t "pixq-$what:$tag")
  if [ "${PIXQ_NO_CACHE:-}" = 1 ]; then args+=(--no-cache); fi
  # npm in the API image's build stage trusts the machine's CA bundle, given as a build secret
  # (where TLS is intercepted, the interceptor's CA is in it); no layer keeps it.
  [ "$what" != api ] || args+=(--secret "id=ca,src=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}")
  mkdir -p "$work"
  log "building pixq-$what:$tag (log: ${work#"$root"/}/build-$what.log)"
  if ! podman build "${args[@]}" "$root" >"$work/build-$what.log" 2>&1; then
    tail -30 "$work/build-$what.log" >&2
    die "pixq-$what did not build"
  fi
  log "pixq-$what:$tag built in $((SECONDS - started)) s: $(image_size "pixq-$what:$tag")"
}

image_size() { podman image inspect --format '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1 / 1e6}'; }

tools_image=localhost/pixq-ctr-tools:latest
helm_bin="$root/tests/deploy/node_modules/.k8s-tools/helm"

# The helpers' image (curl, sh, socat; tests/containers/tools.Dockerfile), not part of pixq.
build_tools() {
  podman image exists "$tools_image" && return
  log "building $tools_image (curl and socat for the run)"
  podman build -q --pull=never -t "$tools_image" -f "$root/tests/containers/tools.Dockerfile" \
    "$root/tests/containers" >/dev/null
}

# The address of a pod on the run's network.
pod_ip() {
  local infra
  infra="$(podman pod inspect "$1" --format '{{.InfraContainerID}}')"
  podman inspect "$infra" --format "{{(index .NetworkSettings.Networks \"$network\").IPAddress}}"
}

# librdkafka's mock cluster answers on its pod's loopback only, and tells clients to come back to
# 127.0.0.1:<port>. So each pixq pod gets a forwarder from its own loopback port to the broker's
# pod (as a service mesh adds a sidecar), and the chart's kafka.bootstrapServers is
# 127.0.0.1:<port>: the pixq containers themselves stay as rendered.
add_kafka_forwarder() {
  local pod="$1"
  # shellcheck disable=SC1091
  . "$work/state.env"
  podman run -d --pod "$pod" --name "$pod-kafka-forward" --read-only --cap-drop ALL \
    --security-opt no-new-privileges "$tools_image" \
    socat "TCP-LISTEN:$KAFKA_PORT,bind=127.0.0.1,fork,reuseaddr" "TCP:$KAFKA_IP:$KAFKA_PORT" >/dev/null
}

# Waits until <url> answers 2xx, for at most <seconds>.
await_http() {
  local url="$1" seconds="$2" started=$SECONDS
  until curl -fs -o /dev/null --max-time 2 "$url"; do
    [ $((SECONDS - started)) -lt "$seconds" ] || return 1
    sleep 0.5
  done
}

# Plays a kube YAML unstarted, adds the Kafka forwarder to each of its pods, then starts them;
# prints the pods' names.
play() {
  local yaml="$1" pod out
  out="$work/play-$(basename "$yaml" .yaml).log"
  # Without systemd podman cannot schedule the healthchecks it makes of the probes, and says so
  # on stderr; tests/containers/check-running.sh calls the probes itself.
  podman kube play --network "$network" --start=false "$yaml" >"$out" 2>"$out.stderr" ||
    die "kube play $yaml: $(cat "$out.stderr")"
  for pod in $(awk '/^Pod:$/{getline; print}' "$out"); do
    pod="$(podman pod inspect "$pod" --format '{{.Name}}')"
    add_kafka_forwarder "$pod"
    podman pod start "$pod" >/dev/null
    echo "$pod"
  done
}

# One more worker replica (pod <name>), from the Deployment's pod template, as a ReplicaSet
# stamps one; prints the pod's address once it is ready.
add_worker() {
  local pod="$1" ip
  sed "s/WORKER_POD_NAME/$pod/" "$work/manifests/worker-pod.yaml" >"$work/manifests/$pod.yaml"
  play "$work/manifests/$pod.yaml" >/dev/null
  ip="$(pod_ip "$pod")"
  # shellcheck disable=SC1091
  . "$work/state.env"
  await_http "http://$ip:$WORKER_PORT/readyz" 120 || die "worker pod $pod is not ready after 120 s"
  echo "$ip"
}

up() {
  down
  make_base
  build_tools
  local image
  for image in api worker devbroker; do
    podman image exists "pixq-$image:$tag" || die "pixq-$image:$tag is missing: scripts/containers.sh build"
  done
  [ -x "$helm_bin" ] || die "helm is missing: scripts/setup.sh (tests/deploy/install-tools.sh)"
  mkdir -p "$work/manifests"
  local started=$SECONDS
  podman network create "$network" >/dev/null

  # Kafka: pixq-devbroker in its own pod, with a forwarder from the pod's address to the mock
  # cluster's loopback port. Four partitions: room for the two workers the run scales to.
  podman pod create --name "$name-kafka" --network "$network" >/dev/null
  podman run -d --pod "$name-kafka" --name "$name-kafka-broker" --read-only --tmpfs /tmp \
    --cap-drop ALL --security-opt no-new-privileges "pixq-devbroker:$tag" \
    --partitions 4 --bootstrap-file /tmp/bootstrap >/dev/null
  local port="" ip
  for _ in $(seq 100); do
    port="$(podman logs "$name-kafka-broker" 2>&1 |
      sed -n 's/.*"bootstrap_servers":"127.0.0.1:\([0-9]*\)".*/\1/p' | sed -n 1p)"
    [ -z "$port" ] || break
    sleep 0.2
  done
  [ -n "$port" ] || die "pixq-devbroker did not start: $(podman logs "$name-kafka-broker" 2>&1 | tail -5)"
  ip="$(pod_ip "$name-kafka")"
  podman run -d --pod "$name-kafka" --name "$name-kafka-forward" --read-only --cap-drop ALL \
    --security-opt no-new-privileges "$tools_image" \
    socat "TCP-LISTEN:$port,bind=$ip,fork,reuseaddr" "TCP:127.0.0.1:$port" >/dev/null

  # The chart, rendered with this machine's values, split into what kube play runs.
  local helm_home="$work/helm"
  KUBECONFIG=/dev/null HELM_CACHE_HOME="$helm_home" HELM_CONFIG_HOME="$helm_home" \
    HELM_DATA_HOME="$helm_home" "$helm_bin" template "$name" "$chart" \
    -f "$root/tests/containers/values.yaml" --set "kafka.bootstrapServers=127.0.0.1:$port" \
    >"$work/rendered.yaml"
  node "$root/tests/containers/kube-play.mjs" "$work/rendered.yaml" "$work/manifests" "$tools_image"
  sed 's/^/containers: /' "$work/manifests/summary" >&2
  podman secret create "$(cat "$work/manifests/secret-name")" "$work/manifests/secret.json" >/dev/null

  local ports
  ports="$(node -e 'const p = require(process.argv[1]);
    console.log(`HTTP_PORT=${p.api.probes[0].port}\nWORKER_PORT=${p.worker.probes[0].port}`)' \
    "$work/manifests/probes.json")"
  printf 'KAFKA_PORT=%s\nKAFKA_IP=%s\nTAG=%s\n%s\n' "$port" "$ip" "$tag" "$ports" >"$work/state.env"
  # shellcheck disable=SC1091
  . "$work/state.env"
  play "$work/manifests/play.yaml" >"$work/pods"
  local pod api_ip="" workers=""
  for pod in $(cat "$work/pods"); do
    case "$pod" in
      "$name"-api-*)
        api_ip="$(pod_ip "$pod")"
        await_http "http://$api_ip:$HTTP_PORT/readyz" 300 || die "$pod is not ready after 300 s"
        printf 'API_POD=%s\nAPI_IP=%s\n' "$pod" "$api_ip" >>"$work/state.env"
        ;;
      "$name"-worker-*)
        await_http "http://$(pod_ip "$pod"):$WORKER_PORT/readyz" 120 || die "$pod is not ready after 120 s"
        workers+="$pod "
        ;;
    esac
  done
  [ -n "$api_ip" ] || die "kube play started no API pod: $(cat "$work/pods")"
  echo "WORKER_PODS=\"${workers% }\"" >>"$work/state.env"
  log "pixq runs from the chart in $((SECONDS - started)) s: $(tr '\n' ' ' <"$work/pods")(API at http://$api_ip:$HTTP_PORT, Kafka at $ip:$port)"
}

# Everything `up` made: the pods, containers, volumes and secret named $name*, and the network.
down() {
  local p
  for p in $(podman pod ls --format '{{.Name}}' | grep "^$name" || true); do podman pod rm -f -t 0 "$p" >/dev/null 2>&1; done
  for p in $(podman ps -a --format '{{.Names}}' | grep "^$name" || true); do podman rm -f -t 0 "$p" >/dev/null 2>&1; done
  for p in $(podman volume ls --format '{{.Name}}' | grep "^$name" || true); do podman volume rm -f "$p" >/dev/null; done
  for p in $(podman secret ls --format '{{.Name}}' | grep "^$name" || true); do podman secret rm "$p" >/dev/null; done
  if podman network exists "$network"; then podman network rm -f "$network" >/dev/null; fi
}

case "${1:-}" in
  base) make_base ;;
  build)
    make_base
    forget_caches
    build_image api
    build_image worker
    build_image devbroker
    ;;
  up) up ;;
  down) down ;;
  # For tests/containers/check-running.sh: one more worker replica; a pod of a kube YAML.
  add-worker) add_worker "$2" ;;
  play) play "$2" ;;
  check)
    make_base
    forget_caches
    build_image api
    build_image worker
    build_image devbroker
    exec "$root/tests/containers/check-running.sh"
    ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
