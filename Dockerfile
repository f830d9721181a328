# syntax=docker/dockerfile:1
# Marquee's container image: release builds of `marquee` (the gateway with
# model-svc in process), `gateway` (the plain gateway, for the gateway and
# dispatcher Deployments) and `model-svc`, the web client and the built-in
# catalog, on a slim Debian with no compiler, run as an unprivileged user.
# docs/design/deploy.md explains the layout; `scripts/deploy-test` lints this.
#
#   docker build -t marquee:dev .

# ---- build: the Rust toolchain, only in this stage ----
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# protoc comes vendored (protoc-bin-vendored); the C parts of dependencies
# need only the compiler the image already has.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p marquee -p gateway -p model-svc \
      --bin marquee --bin gateway --bin model-svc \
 && mkdir -p /out/bin \
 && cp target/release/marquee target/release/gateway target/release/model-svc /out/bin/

# ---- run: binaries, web client, catalog; no build tools ----
FROM debian:bookworm-slim AS run
# A fixed uid/gid (the manifests' securityContext says the same numbers).
RUN groupadd --system --gid 10001 marquee \
 && useradd --system --uid 10001 --gid marquee --home-dir /app --shell /usr/sbin/nologin marquee
WORKDIR /app
COPY --from=build /out/bin/ /app/bin/
COPY web/index.html web/style.css /app/web/
COPY web/js/ /app/web/js/
COPY model-svc/data/movies.jsonl model-svc/data/reviews.jsonl /app/catalog/
COPY seats/data/demo.json /app/schedule/demo.json
ENV PATH="/app/bin:${PATH}" \
    MARQUEE_ADDR="0.0.0.0:8080" \
    WEB_DIR="/app/web" \
    LOG_FORMAT="json" \
    MODEL_SVC_DATA_DIR="/app/catalog"
USER 10001:10001
# 8080: clients (WebSocket, REST, web page); 9090: ADMIN_ADDR when set
# (/metrics, /healthz, /readyz); 50051: model-svc's gRPC.
EXPOSE 8080 9090 50051
ENTRYPOINT ["/app/bin/marquee"]
