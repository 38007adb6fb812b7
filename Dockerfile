# One image runs any connector: the host, every Rust connector component and the bundled
# configs (deploy/configs), each configured by environment variables.
#   docker build -t danube-connect .        (or: make image)
#   docker run -e DANUBE_SERVICE_URL=http://broker:6650 -e TARGET_URL=http://hook:8080/in \
#     -e ALLOWED_HOSTS=http://hook:8080 danube-connect --config /etc/danube-connect/sink-http.toml

FROM docker.io/library/rust:1.95-bookworm AS build
# protoc for danube-core; OpenSSL headers and pkg-config for librdkafka, which the host's
# default `kafka` feature builds from source (with TLS and SCRAM).
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends protobuf-compiler libssl-dev pkg-config \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add wasm32-wasip2
WORKDIR /src
COPY . .
RUN cargo build --release -p danube-connect-host --bin danube-connect-host \
 && cargo build --profile guest --target wasm32-wasip2 -p sink-http -p sink-clickhouse -p source-mqtt \
      -p source-postgres -p bridge-kafka

FROM docker.io/library/debian:bookworm-slim
# libssl3: the host's librdkafka links OpenSSL.
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends ca-certificates curl libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/danube-connect --create-home danube-connect
COPY --from=build /src/target/release/danube-connect-host /usr/local/bin/
COPY --from=build /src/target/wasm32-wasip2/guest/sink_http.wasm \
                  /src/target/wasm32-wasip2/guest/sink_clickhouse.wasm \
                  /src/target/wasm32-wasip2/guest/source_mqtt.wasm \
                  /src/target/wasm32-wasip2/guest/source_postgres.wasm \
                  /src/target/wasm32-wasip2/guest/bridge_kafka.wasm /opt/danube-connect/components/
COPY deploy/configs/ /etc/danube-connect/
USER danube-connect
WORKDIR /var/lib/danube-connect
# Reachable from outside the container; compiled components are cached in the home folder.
ENV METRICS_ADDR=0.0.0.0:9464 \
    DANUBE_CONNECT_CACHE_DIR=/var/lib/danube-connect/cache \
    LOG_FORMAT=json
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s \
  CMD curl -fsS http://127.0.0.1:9464/readyz || exit 1
ENTRYPOINT ["danube-connect-host"]
CMD ["--config", "/etc/danube-connect/sink-http.toml"]
