# syntax=docker/dockerfile:1.7
#
# Two stages: a builder with the Rust toolchain plus cmake and libclang (xgboost-rs-sys compiles
# libxgboost from its bundled source and runs bindgen), and a slim Debian runtime that holds only
# the binary, the model bundle and the shared libraries the binary links (libstdc++, libgomp).
#
# The binary may come from a release build made outside instead (`--build-arg BINARY_FROM=prebuilt`,
# the binary at dist/turnover in the build context): the runtime stage is the same. .ci/image
# builds so, because its machine can pull no registry image (no rust:*) and Debian bookworm's own
# rustc (1.63) is older than the crates need; it makes debian:bookworm-slim itself with mmdebstrap.
#
# The model bundle is taken from the build context at models/turnover (model.json +
# manifest.json). Produce it first with `turnover train --data <extracts> --out models/turnover`
# or pass another folder with --build-arg MODEL_DIR=...

ARG RUST_VERSION=1
ARG DEBIAN_RELEASE=bookworm
# `builder` (compile here) or `prebuilt` (take dist/turnover from the build context).
ARG BINARY_FROM=builder

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake clang libclang-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build

# 1. Dependencies alone, libxgboost's C++ build among them: a layer that only a change of
# Cargo.toml or Cargo.lock rebuilds. Every target the manifest names gets an empty stub (read
# from `cargo metadata`, so a target added or moved needs no change here), and the build of
# those stubs compiles every dependency. No cache mount: the compiled dependencies must live in
# the layer, which registries and CI caches (type=gha) keep; a cache mount is kept by neither.
COPY Cargo.toml Cargo.lock ./
RUN set -eux; \
    cargo metadata --no-deps --format-version 1 --locked \
        | grep -o '"src_path":"[^"]*"' | cut -d'"' -f4 \
        | while read -r target; do mkdir -p "$(dirname "$target")"; echo 'fn main() {}' > "$target"; done; \
    cargo build --release --locked --bin turnover; \
    rm -rf src benches tests

# 2. The crate itself, on top of the compiled dependencies: a source change rebuilds only this.
# The sources are touched so that cargo sees them newer than the stubs it built above.
COPY src ./src
COPY benches ./benches
COPY migrations ./migrations
RUN find src benches -name '*.rs' -exec touch {} + \
    && cargo build --release --locked --bin turnover \
    && cp target/release/turnover /usr/local/bin/turnover

# The release binary of `cargo build --release --locked --bin turnover` run on a Debian bookworm
# machine (same glibc as the runtime stage), copied to dist/turnover in the build context.
FROM scratch AS prebuilt
COPY dist/turnover /usr/local/bin/turnover

# Where the runtime stage takes its binary from: a stage that is not named is never built.
FROM ${BINARY_FROM} AS binary

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
ARG MODEL_DIR=models/turnover
# libgomp1/libstdc++6: linked by libxgboost; curl: the HEALTHCHECK; ca-certificates: amqps/TLS.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl libgomp1 libstdc++6 tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 turnover \
    && useradd --system --uid 10001 --gid turnover --home-dir /app --shell /usr/sbin/nologin turnover
WORKDIR /app
COPY --from=binary /usr/local/bin/turnover /usr/local/bin/turnover
COPY --chown=root:root ${MODEL_DIR} /app/models/turnover

# OMP_WAIT_POLICY=passive: XGBoost's OpenMP threads sleep between batches instead of spinning.
ENV TURNOVER_MODEL__PATH=/app/models/turnover \
    TURNOVER_HTTP__ADDR=0.0.0.0:8080 \
    TURNOVER_LOG__FORMAT=json \
    OMP_WAIT_POLICY=passive

USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["curl", "--fail", "--silent", "--show-error", "--max-time", "2", "-o", "/dev/null", "http://127.0.0.1:8080/health"]

# tini forwards SIGTERM to turnover (graceful drain) and reaps the curl children of HEALTHCHECK.
ENTRYPOINT ["/usr/bin/tini", "--", "turnover"]
CMD ["serve"]
