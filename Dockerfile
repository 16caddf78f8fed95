# dedup-proxy image: the release binary built on Debian 12 with the same
# preset as scripts/build.sh (tests not built), then a runtime image FROM
# scratch holding only that binary (stripped), the shared libraries ldd
# resolves for it, /bin/sleep for the chart's preStop hook, and the dpkg
# status of the packages those came from (scripts/container_rootfs.sh).
# No shell, no package manager; runs as 65532 with a read-only root
# filesystem: /var/lib/dedup-proxy is the only path it writes.
# tests/container/ builds and runs it with podman (README: Kubernetes).

FROM debian:bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
# The build dependencies of scripts/setup.sh (no test frameworks or servers).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libevent-dev libhttp-parser-dev librocksdb-dev libhiredis-dev prometheus-cpp-dev \
      libyaml-cpp-dev libsimdjson-dev libcli11-dev libssl-dev libnghttp2-dev ccache \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the binary is built from, so a change to tests or docs reuses the
# cached build (new top-level source folders must be added here).
COPY CMakeLists.txt CMakePresets.json ./
COPY common common
COPY metrics metrics
COPY dedup_store dedup_store
COPY adapters adapters
COPY proxy proxy
# The binary is stripped, so no -g (a quicker compile, the same code); ccache
# in a cache mount that outlives the build, so a change to a few files
# recompiles only those (podman/buildah and Docker's BuildKit keep it).
RUN --mount=type=cache,target=/root/.cache/ccache,id=dedup-proxy-ccache \
    cmake --preset release -G Ninja -DDEDUP_BUILD_TESTS=OFF \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -DNDEBUG" -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
 && cmake --build build --target dedup-proxy \
 && ccache --show-stats
COPY scripts/container_rootfs.sh scripts/
RUN scripts/container_rootfs.sh build/proxy/dedup-proxy /rootfs

FROM scratch
COPY --from=build /rootfs/ /
COPY --from=build --chown=65532:65532 /rootfs/var/lib/dedup-proxy/ /var/lib/dedup-proxy/
USER 65532:65532
WORKDIR /var/lib/dedup-proxy
EXPOSE 8080 9901
ENTRYPOINT ["/usr/local/bin/dedup-proxy"]
