# pixq-api: the HTTP API. Build from the repository root (scripts/containers.sh build does):
#   docker build -f deploy/docker/api.Dockerfile -t pixq-api:0.1.0 \
#     --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt .
# The secret is needed only where TLS to the npm registry is intercepted: npm then trusts the
# machine's CA bundle. It is mounted for the one RUN that calls npm, and no layer keeps it.
# tests/deploy checks that the runtime stage installs every shared library the binary needs.

# Build stage: Debian 12 with the toolchain and the -dev packages scripts/setup.sh installs
# (those the binaries link; no test data, no Prometheus), and npm for the Redoc bundle that the
# binary embeds for GET /docs. The first RUN is the worker's word for word, so that one layer
# serves both images.
FROM debian:12 AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config ccache \
      libpistache-dev librdkafka-dev libopencv-dev prometheus-cpp-dev libyaml-cpp-dev libabsl-dev \
      nlohmann-json3-dev libcurl4-openssl-dev libssl-dev libcli11-dev libdeflate-dev liburcu-dev liblmdb-dev libgtest-dev libgmock-dev \
      libheif-dev libgif-dev \
    && rm -rf /var/lib/apt/lists/*
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Redoc, exactly as locked in pkg/http/redoc/package-lock.json (npm checks each package's hash);
# no install scripts run. Only its bundle goes into the binary, and nothing of npm into the image.
# It depends on the lock file alone, so a change to the sources does not fetch it again.
COPY pkg/http/redoc/package.json pkg/http/redoc/package-lock.json pkg/http/redoc/
RUN --mount=type=secret,id=ca --mount=type=cache,id=pixq-npm,target=/root/.npm \
    NODE_EXTRA_CA_CERTS=/run/secrets/ca \
    npm ci --prefix pkg/http/redoc --ignore-scripts --no-audit --no-fund --loglevel=error
# The repository, minus what the build never reads (api.Dockerfile.dockerignore).
COPY . .
# Only this binary's target and the pixq CLI's (for `pixq jobs` and the like beside the API; it
# loads nothing pixq-api does not: link.cli_needs_nothing_the_api_image_lacks), not the tests; stripped, since debug symbols stay in
# the build.
# ccache's directory is a cache mount: it outlives the build on this machine (and is shared with
# the worker image's build, which compiles the same libraries), and no image holds it.
RUN --mount=type=cache,id=pixq-ccache,target=/root/.cache/ccache \
    cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
      >/dev/null \
    && ccache --zero-stats >/dev/null \
    && ninja -C /build pixq-api pixq \
    && ccache --show-stats \
    && install -D -s /build/cmd/api/pixq-api /out/usr/local/bin/pixq-api \
    && install -D -s /build/cmd/pixq/pixq /out/usr/local/bin/pixq

# Runtime stage: the shared libraries pixq-api links (their dependencies come with them; librdkafka1
# is named since the backlog reader calls its C API directly) and CA certificates for TLS to
# Kafka; no compiler, no headers, no shell tools beyond the base image.
FROM debian:12-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates \
      libabsl20220623 \
      libcurl4 \
      libpistache0 \
      libprometheus-cpp-core1.0 \
      librdkafka++1 \
      librdkafka1 \
      libssl3 \
      liblmdb0 \
      liburcu8 \
      libyaml-cpp0.7 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 pixq \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin pixq \
    && install -d -o 10001 -g 10001 /var/lib/pixq
COPY --from=build /out/ /
# Numeric, so that Kubernetes can check runAsNonRoot without reading /etc/passwd.
USER 10001:10001
# Nothing is written outside the volume (/var/lib/pixq) and /tmp, so the root file system can
# be read-only; HOME points at /tmp for any library that wants a writable home.
ENV HOME=/tmp
WORKDIR /var/lib/pixq
EXPOSE 8080
# The chart passes --config /etc/pixq/pixq.yaml; PIXQ_<SECTION>_<KEY> variables work too.
ENTRYPOINT ["/usr/local/bin/pixq-api"]
