# pixq-api: the HTTP API. Build from the repository root:
#   docker build -f deploy/docker/api.Dockerfile -t pixq-api:0.1.0 .
# tests/deploy checks that the runtime stage installs every shared library the binary needs.

# Build stage: Debian 12 with the toolchain and the -dev packages scripts/setup.sh installs
# (those the binaries link; no test data, no Prometheus), and npm for the Redoc bundle that the
# binary embeds for GET /docs.
FROM debian:12 AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config \
      libpistache-dev librdkafka-dev libopencv-dev prometheus-cpp-dev libyaml-cpp-dev libabsl-dev \
      nlohmann-json3-dev libcurl4-openssl-dev libssl-dev libcli11-dev libdeflate-dev liburcu-dev libgtest-dev libgmock-dev \
      nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Redoc, exactly as locked in pkg/http/redoc/package-lock.json (npm checks each package's hash);
# no install scripts run. Only its bundle goes into the binary, and nothing of npm into the image.
RUN npm ci --prefix pkg/http/redoc --ignore-scripts --no-audit --no-fund --loglevel=error
# Only this binary's target, not the tests; stripped, since debug symbols stay in the build.
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null \
    && ninja -C /build pixq-api \
    && install -D -s /build/cmd/api/pixq-api /out/usr/local/bin/pixq-api

# Runtime stage: the shared libraries pixq-api links (their dependencies come with them) and CA
# certificates for TLS to Kafka; no compiler, no headers, no shell tools beyond the base image.
FROM debian:12-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates \
      libabsl20220623 \
      libcurl4 \
      libpistache0 \
      libprometheus-cpp-core1.0 \
      librdkafka++1 \
      libssl3 \
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
