# pixq-devbroker: librdkafka's mock cluster as a one-process Kafka, for development and for
# scripts/containers.sh, which runs pixq's images beside it. Not for production: it keeps
# everything in memory and answers on loopback only (its pod's, reached through a forwarder).
# Build from the repository root:
#   docker build -f deploy/docker/devbroker.Dockerfile -t pixq-devbroker:0.1.0 .

# Build stage: the worker image's, word for word, so that podman or docker reuses its layers
# (the toolchain, the sources, the worker's build tree); then the one more target.
FROM debian:12 AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config ccache \
      libpistache-dev librdkafka-dev libopencv-dev prometheus-cpp-dev libyaml-cpp-dev libabsl-dev \
      nlohmann-json3-dev libcurl4-openssl-dev libssl-dev libcli11-dev libdeflate-dev liburcu-dev liblmdb-dev libgtest-dev libgmock-dev \
      libheif-dev libgif-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The repository, minus what the build never reads (devbroker.Dockerfile.dockerignore, the
# worker's).
COPY . .
RUN --mount=type=cache,id=pixq-ccache,target=/root/.cache/ccache \
    cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
      -DPIXQ_DOCS_PAGE=OFF >/dev/null \
    && ccache --zero-stats >/dev/null \
    && ninja -C /build pixq-worker \
    && ccache --show-stats \
    && install -D -s /build/cmd/worker/pixq-worker /out/usr/local/bin/pixq-worker
# The worker's build tree, as the layer above left it: only what pixq-devbroker adds compiles.
RUN --mount=type=cache,id=pixq-ccache,target=/root/.cache/ccache \
    ninja -C /build pixq-devbroker \
    && install -D -s /build/cmd/devbroker/pixq-devbroker /out-devbroker/usr/local/bin/pixq-devbroker

# Runtime stage: the worker image's packages (a superset of what pixq-devbroker links), in the
# same RUN, so that the two images share that layer.
FROM debian:12-slim
# What the worker's libraries pull in by dependency but pixq-worker never loads, left out as the
# slim image leaves out documentation (dpkg keeps the packages registered, so scanners still see
# their versions): OpenCV's core depends on libGLX, whose Mesa vendor brings the DRI drivers and
# LLVM (for a GL context pixq never creates, about 160 MB with z3), and imgcodecs on GDAL, whose
# PROJ and GDAL data files only map projections. tests/containers/check-running.sh runs jobs
# (JPEG and PNG in, every kind of step, JPEG and WebP out) in this image without them.
RUN printf 'path-exclude %s\n' '/usr/lib/*/dri/*' '/usr/lib/*/libLLVM-15.so*' '/usr/lib/*/libz3.so*' \
      '/usr/share/proj/*' '/usr/share/gdal/*' >/etc/dpkg/dpkg.cfg.d/pixq-worker-unused
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates \
      libabsl20220623 \
      libcurl4 \
      libdeflate0 \
      libopencv-core406 \
      libopencv-imgcodecs406 \
      libopencv-imgproc406 \
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
# pixq-devbroker links librdkafka's C library directly (the mock cluster's API), so it is named
# here; the layer above has it already, as librdkafka++1's dependency.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends librdkafka1 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out-devbroker/ /
USER 10001:10001
ENV HOME=/tmp
WORKDIR /tmp
ENTRYPOINT ["/usr/local/bin/pixq-devbroker"]
