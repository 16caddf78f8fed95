# dedup-proxy image: built on Debian 12 exactly like scripts/build.sh does on a
# host, then copied into a slim runtime image with only the shared libraries
# the binary links (tests/helm/test_dockerfile.py checks that list against
# `ldd build/proxy/dedup-proxy`).

FROM debian:bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
# The build dependencies of scripts/setup.sh (no test servers, no clang tools).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libevent-dev libhttp-parser-dev librocksdb-dev libhiredis-dev prometheus-cpp-dev \
      libgtest-dev libgmock-dev libyaml-cpp-dev libsimdjson-dev libcli11-dev libssl-dev libnghttp2-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN scripts/build.sh release \
 && install -D -m 0755 build/proxy/dedup-proxy /out/dedup-proxy

FROM debian:bookworm-slim
ENV DEBIAN_FRONTEND=noninteractive
# Runtime libraries only: one package per library the binary links.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libc6 libgcc-s1 libstdc++6 zlib1g libbz2-1.0 liblz4-1 libsnappy1v5 libzstd1 \
      libevent-core-2.1-7 libevent-extra-2.1-7 libevent-pthreads-2.1-7 \
      libhttp-parser2.9 libprometheus-cpp-core1.0 libyaml-cpp0.7 libssl3 \
      librocksdb7.8 libhiredis0.14 libsimdjson14 libnghttp2-14 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 65532 nonroot \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /var/lib/dedup-proxy \
      --shell /usr/sbin/nologin nonroot \
 && install -d -o 65532 -g 65532 /var/lib/dedup-proxy /etc/dedup-proxy
COPY --from=build /out/dedup-proxy /usr/local/bin/dedup-proxy
USER 65532:65532
WORKDIR /var/lib/dedup-proxy
EXPOSE 8080 9901
ENTRYPOINT ["/usr/local/bin/dedup-proxy"]
