# pixq-worker: a worker of the consumer group (probes and /metrics on 9090). Build from the repository root:
#   docker build -f deploy/docker/worker.Dockerfile -t pixq-worker:0.1.0 .
# (scripts/containers.sh build does, with podman.)
# tests/deploy checks that the runtime stage installs every shared library the binary needs.

# Build stage: Debian 12 with the toolchain and the -dev packages scripts/setup.sh installs
# (those the binaries link; no test data, no Prometheus). The first RUN is the API image's word
# for word, so that one layer serves both images.
FROM debian:12 AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config ccache \
      libpistache-dev librdkafka-dev libopencv-dev prometheus-cpp-dev libyaml-cpp-dev libabsl-dev \
      nlohmann-json3-dev libcurl4-openssl-dev libssl-dev libcli11-dev libdeflate-dev liburcu-dev liblmdb-dev libgtest-dev libgmock-dev \
      libheif-dev libgif-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The repository, minus what the build never reads (worker.Dockerfile.dockerignore).
COPY . .
# Only this binary's target, not the tests; stripped, since debug symbols stay in the build.
# pixq-worker links pkg/http for its probe server only: no /docs page, so no Redoc to embed.
# ccache's directory is a cache mount: it outlives the build on this machine (and is shared with
# the API image's build, which compiles the same libraries), and no image holds it.
RUN --mount=type=cache,id=pixq-ccache,target=/root/.cache/ccache \
    cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
      -DPIXQ_DOCS_PAGE=OFF >/dev/null \
    && ccache --zero-stats >/dev/null \
    && ninja -C /build pixq-worker \
    && ccache --show-stats \
    && install -D -s /build/cmd/worker/pixq-worker /out/usr/local/bin/pixq-worker

# Runtime stage: the shared libraries pixq-worker links (their dependencies come with them) and CA
# certificates for TLS to Kafka; no compiler, no headers, no shell tools beyond the base image.
FROM debian:12-slim
# What the worker's libraries pull in by dependency but pixq-worker never loads, left out as the
# slim image leaves out documentation (dpkg keeps the packages registered, so scanners still see
# their versions): OpenCV's core depends on libGLX, whose Mesa vendor brings the DRI drivers and
# LLVM (for a GL context pixq never creates, about 160 MB with z3), and imgcodecs on GDAL, whose
# PROJ and GDAL data files only map projections. tests/containers/check-running.sh runs jobs
# (JPEG and PNG in, every kind of step, JPEG and WebP out) in this image without them.
# libgif7 is giflib, which reads a GIF's first frame in the codec processes (pkg/imaging).
# librdkafka1 is named since pkg/queue calls its C API directly (the group consumer commits with it).
# libheif's decoders are named beside it (libde265 for HEIC, dav1d and aom for AVIF), though its
# dependencies would bring them: pixq-worker decodes with them, so they are not left to chance.
RUN printf 'path-exclude %s\n' '/usr/lib/*/dri/*' '/usr/lib/*/libLLVM-15.so*' '/usr/lib/*/libz3.so*' \
      '/usr/share/proj/*' '/usr/share/gdal/*' >/etc/dpkg/dpkg.cfg.d/pixq-worker-unused
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates \
      libabsl20220623 \
      libcurl4 \
      libdeflate0 \
      libgif7 \
      libheif1 \
      libde265-0 \
      libdav1d6 \
      libaom3 \
      libopencv-core406 \
      libopencv-imgcodecs406 \
      libopencv-imgproc406 \
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
EXPOSE 9090
# The chart passes --config /etc/pixq/pixq.yaml; PIXQ_<SECTION>_<KEY> variables work too.
ENTRYPOINT ["/usr/local/bin/pixq-worker"]
