# The helpers scripts/containers.sh runs beside pixq's images, none of them part of pixq: curl and
# a POSIX sh for the chart's `helm test` script (whose curlimages/curl image no registry may
# serve here), and socat, which forwards each pod's loopback Kafka port to pixq-devbroker.
FROM debian:12-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl socat \
    && rm -rf /var/lib/apt/lists/*
# As the official debian images set it (kube play, unlike podman run, supplies none).
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
USER 10001:10001
