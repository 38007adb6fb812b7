#!/usr/bin/env bash
# The benchmarks recorded in BENCHMARKS.md. Run through `make bench` (release builds).
# DANUBE_SERVICE_URL=http://127.0.0.1:6650 also runs the end-to-end part against that broker.
set -euo pipefail
cd "$(dirname "$0")/.."

mkdir -p target/bench
# Every benchmark appends its headline figures here, one JSON line each; the table at the end
# reads them back.
export BENCH_FIGURES=$PWD/target/bench/figures.jsonl
: > "$BENCH_FIGURES"

HOST=$PWD/target/release/danube-connect-host
BENCH=$PWD/target/release/danube-connect-bench
FLEET=$PWD/target/release/danube-connect-fleet-bench
W=$PWD/target/wasm32-wasip2/guest
export DANUBE_CONNECT_HOST_BIN=$HOST
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# A figure measured here in the shell: name, value (a JSON number), unit.
figure() { printf '{"name":"%s","value":%s,"unit":"%s"}\n' "$1" "$2" "$3" >> "$BENCH_FIGURES"; }

# Cold start of a component through `validate`, printed and recorded: compile (no cache), load
# from the AOT cache, and the whole cached process. validate's last line reads
# "component <compiled|loaded from …> in X ms; instantiated and opened in Y ms".
cold_start() { # component config-name
  local line start name="cold start $1" times='in ([0-9]+(\.[0-9]+)?) ms; .* in ([0-9]+(\.[0-9]+)?) ms'
  line=$("$HOST" validate --no-cache --config "$work/$2.toml" --component "$W/$1.wasm" 2>/dev/null | tail -1)
  echo "$line"
  if [[ $line =~ $times ]]; then
    figure "$name: compile (no cache)" "${BASH_REMATCH[1]}" ms
    figure "$name: instantiate + open (no cache)" "${BASH_REMATCH[3]}" ms
  fi
  "$HOST" validate --cache-dir "$work/cold" --config "$work/$2.toml" --component "$W/$1.wasm" >/dev/null 2>&1
  line=$("$HOST" validate --cache-dir "$work/cold" --config "$work/$2.toml" --component "$W/$1.wasm" 2>/dev/null | tail -1)
  echo "$line"
  if [[ $line =~ $times ]]; then
    figure "$name: load from the AOT cache" "${BASH_REMATCH[1]}" ms
    figure "$name: instantiate + open (cached)" "${BASH_REMATCH[3]}" ms
  fi
  start=$(date +%s%N)
  "$HOST" validate --cache-dir "$work/cold" --config "$work/$2.toml" --component "$W/$1.wasm" >/dev/null 2>&1
  local ms=$(( ($(date +%s%N) - start) / 1000000 ))
  echo "$1: whole validate process, cached: $ms ms"
  figure "$name: whole validate process (cached)" "$ms" ms
}

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB"

echo "== Wasm boundary: pass-through component vs native pass-through (500-message batches)"
"$HOST" bench --cache-dir "$work/cache" --component "$W/passthrough.wasm" --messages 2000000 --batch-size 500 --payload-bytes 256 --native-baseline --figures "$BENCH_FIGURES"
"$HOST" bench --cache-dir "$work/cache" --component "$W/passthrough.wasm" --messages 2000000 --batch-size 500 --payload-bytes 256 --attributes 3 --with-key --native-baseline --figures "$BENCH_FIGURES"

echo "== HTTP sink ceiling: JSON-array batches of 500 to a local receiver"
port=18080
"$BENCH" receiver --addr "127.0.0.1:$port" >/dev/null & pids+=($!)
sleep 0.5
cat > "$work/http.toml" <<TOML
[connector]
name = "bench-http"
[sink]
topics = ["/default/bench"]
subscription = "bench"
[capabilities.http]
allowed_hosts = ["http://127.0.0.1:*"]
[config]
url = "http://127.0.0.1:$port/hook"   # the HTTP sink's default body is a JSON array; the Python sink takes the same
TOML
"$HOST" bench --cache-dir "$work/cache" --component "$W/sink_http.wasm" --config "$work/http.toml" --messages 500000 --batch-size 500 --payload-bytes 256 \
  --figures "$BENCH_FIGURES"

echo "== component cold start (validate: load + instantiate + open)"
cold_start sink_http http

echo "== end to end on the in-memory test broker: bare consumer vs host"
"$BENCH" e2e --messages "${E2E_MESSAGES:-50000}" --producers 4 --component "$W/sink_http.wasm"
"$BENCH" e2e --messages "${E2E_MESSAGES:-50000}" --producers 4 --component "$W/passthrough.wasm"
echo "-- the HTTP sink again, with the durable local buffer ([sink.buffer] kind = \"disk\")"
"$BENCH" e2e --messages "${E2E_MESSAGES:-50000}" --producers 4 --component "$W/sink_http.wasm" --buffer

if [ -n "${DANUBE_SERVICE_URL:-}" ]; then
  echo "== end to end on the broker at $DANUBE_SERVICE_URL"
  "$BENCH" e2e --danube-url "$DANUBE_SERVICE_URL" --messages "${E2E_REAL_MESSAGES:-20000}" --producers 4 --component "$W/sink_http.wasm"
  echo "-- the same with the durable local buffer"
  "$BENCH" e2e --danube-url "$DANUBE_SERVICE_URL" --messages "${E2E_REAL_MESSAGES:-20000}" --producers 4 --component "$W/sink_http.wasm" --buffer
fi

echo "== Typed records: JSON Schema validation and Avro -> JSON per message, one core"
"$PWD/target/release/danube-connect-schema-bench" --rounds 200

echo "== MQTT source: Mosquitto -> source_mqtt.wasm -> Danube, then devices -> the host's MQTT server, vs a bare publisher, QoS 1, 256 B"
SOURCE=$PWD/target/release/danube-connect-source-bench
env -u DANUBE_SERVICE_URL "$SOURCE" --messages "${MQTT_MESSAGES:-100000}" --producers 4
if [ -n "${DANUBE_SERVICE_URL:-}" ]; then
  echo "== the same on the broker at $DANUBE_SERVICE_URL"
  "$SOURCE" --danube-url "$DANUBE_SERVICE_URL" --messages "${MQTT_REAL_MESSAGES:-50000}" --producers 4
fi

echo "== Webhook source: signed HTTP requests -> source_webhook.wasm -> Danube vs a bare publisher, 256 B"
WEBHOOK=$PWD/target/release/danube-connect-webhook-bench
env -u DANUBE_SERVICE_URL "$WEBHOOK" --requests "${WEBHOOK_REQUESTS:-50000}" --producers 4
if [ -n "${DANUBE_SERVICE_URL:-}" ]; then
  echo "== the same on the broker at $DANUBE_SERVICE_URL"
  "$WEBHOOK" --danube-url "$DANUBE_SERVICE_URL" --requests "${WEBHOOK_REAL_REQUESTS:-30000}" --producers 4
fi

echo "== Postgres CDC: inserts -> source_postgres.wasm -> Danube vs a bare publisher, ~200 B rows"
PG=$PWD/target/release/danube-connect-pg-bench
env -u DANUBE_SERVICE_URL "$PG" --rows "${PG_ROWS:-100000}" --producers 4
if [ -n "${DANUBE_SERVICE_URL:-}" ]; then
  echo "== the same on the broker at $DANUBE_SERVICE_URL"
  "$PG" --danube-url "$DANUBE_SERVICE_URL" --rows "${PG_REAL_ROWS:-50000}" --producers 4
fi

echo "== Kafka bridge: import and export vs bare rdkafka and danube-client, tansu (make tools)"
KAFKA=$PWD/target/release/danube-connect-kafka-bench
export TANSU_BIN=${TANSU_BIN:-$PWD/target/tools/bin/tansu}
env -u DANUBE_SERVICE_URL "$KAFKA" --records "${KAFKA_RECORDS:-50000}"
if [ -n "${DANUBE_SERVICE_URL:-}" ]; then
  echo "== the same on the broker at $DANUBE_SERVICE_URL"
  "$KAFKA" --danube-url "$DANUBE_SERVICE_URL" --records "${KAFKA_REAL_RECORDS:-20000}"
fi

echo "== hot swap under load (20 swaps) and host memory with 1 and 10 idle connectors, test broker"
env -u DANUBE_SERVICE_URL "$FLEET" swap --swaps 20
env -u DANUBE_SERVICE_URL "$FLEET" density --connectors 10
env -u DANUBE_SERVICE_URL "$FLEET" neighbours --restart-max-ms 200
env -u DANUBE_SERVICE_URL "$FLEET" neighbours --restart-max-ms 30000
if [ -n "${DANUBE_SERVICE_URL:-}" ]; then
  echo "== the same on the broker at $DANUBE_SERVICE_URL"
  "$FLEET" swap --swaps 20
  "$FLEET" density --connectors 10
fi

echo "== scale-out: 1, 2 and 3 hosts on one shared subscription (and one host with [sink] concurrency = N), an endpoint answering in 2 ms"
SCALE=$PWD/target/release/danube-connect-scale-bench
echo "-- batches of 10 (the real broker's default window): the endpoint is the limit"
env -u DANUBE_SERVICE_URL "$SCALE" --messages "${SCALE_MESSAGES:-20000}" --batch-size 10
echo "-- batches of 50: the two cores are the limit"
env -u DANUBE_SERVICE_URL "$SCALE" --messages "${SCALE_MESSAGES:-20000}" --batch-size 50
if [ -n "${DANUBE_SERVICE_URL:-}" ]; then
  echo "== the same on the broker at $DANUBE_SERVICE_URL"
  "$SCALE" --danube-url "$DANUBE_SERVICE_URL" --messages "${SCALE_REAL_MESSAGES:-10000}" --batch-size 10
fi

echo "== Python and JavaScript connectors beside Rust ones"
BROKER=$PWD/target/release/danube-test-broker
for c in sink_http sink_python counter_source source_js; do
  echo "component size $c.wasm: $(stat -c %s "$W/$c.wasm") bytes"
done
echo "-- sink ceiling, JSON-array batches of 500 to the same receiver: Rust HTTP sink, then Python (parse, transform.py, POST)"
"$HOST" bench --cache-dir "$work/cache" --component "$W/sink_http.wasm" --config "$work/http.toml" --messages 200000 --batch-size 500 --payload-bytes 256 \
  --figures "$BENCH_FIGURES"
"$HOST" bench --cache-dir "$work/cache" --component "$W/sink_python.wasm" --config "$work/http.toml" --messages 200000 --batch-size 500 --payload-bytes 256 \
  --figures "$BENCH_FIGURES"

echo "-- through Danube (test broker): Rust HTTP sink, then Python"
"$BENCH" e2e --messages 20000 --producers 4 --component "$W/sink_http.wasm"
"$BENCH" e2e --messages 20000 --producers 4 --component "$W/sink_python.wasm"

# A source's rate into Danube (the in-memory test broker): from ready to N records persisted.
source_rate() { # name component messages config-lines
  local name=$1 component=$2 n=$3 config=$4 metrics=127.0.0.1:19466
  cat > "$work/$name.toml" <<TOML
[connector]
name = "$name"
[danube]
service_url = "http://127.0.0.1:16650"
[source]
topic = "/default/$name"
[metrics]
bind = "$metrics"
[capabilities.state]
path = "$work/$name.redb"
[config]
$config
TOML
  # A fresh broker per run: the in-memory one slows down as its topics fill.
  env -u DANUBE_SERVICE_URL "$BROKER" --port 16650 >/dev/null 2>&1 & local broker=$!
  sleep 0.5
  "$HOST" --cache-dir "$work/cache" --component "$component" --config "$work/$name.toml" 2>/dev/null & local host=$!
  until curl -sf "http://$metrics/readyz" >/dev/null; do sleep 0.05; done
  local start persisted=0
  start=$(date +%s%N)
  while [ "${persisted%.*}" -lt "$n" ]; do
    sleep 0.05
    persisted=$(curl -s "http://$metrics/metrics" | awk '/^danube_connector_messages_processed_total/ {s+=$2} END {print s+0}')
  done
  local ms=$(( ($(date +%s%N) - start) / 1000000 ))
  kill "$host"; wait "$host" 2>/dev/null || true
  kill "$broker"; wait "$broker" 2>/dev/null || true
  echo "source $(basename "$component"): $n records persisted in $ms ms: $(( n * 1000 / ms )) records/s"
  figure "source $(basename "$component" .wasm) into Danube: host, test broker" "$(( n * 1000 / ms ))" records/s
}
echo "-- source into Danube (test broker), 4 producers, batches of 500: Rust counter, then JavaScript (template, key, state on commit)"
source_rate bench-counter "$W/counter_source.wasm" 50000 'count = 50000'
source_rate bench-js "$W/source_js.wasm" 50000 "count = 50000
template = '{\"n\": {{n}}, \"device\": \"d-{{n % 4}}\"}'
key_field = \"device\""

echo "-- cold start: compile (no cache), then load from the AOT cache (validate: load + instantiate + open)"
for pair in "sink_http http" "sink_python http" "source_js bench-js"; do
  set -- $pair
  cold_start "$1" "$2"
done

echo "== ClickHouse sink: ceiling with 1 KB JSON rows (no Danube), then end to end vs a bare consumer"
chdir="$work/clickhouse"
mkdir -p "$chdir"
chport=18123
cat > "$chdir/users.xml" <<XML
<?xml version="1.0"?>
<yandex><profiles><default/></profiles><quotas><default/></quotas>
<users><default><password/><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users></yandex>
XML
cat > "$chdir/config.xml" <<XML
<?xml version="1.0"?>
<yandex><logger><level>warning</level><log>$chdir/server.log</log><errorlog>$chdir/error.log</errorlog></logger>
<listen_host>127.0.0.1</listen_host><http_port>$chport</http_port>
<path>$chdir/data/</path><tmp_path>$chdir/tmp/</tmp_path><user_files_path>$chdir/user_files/</user_files_path>
<format_schema_path>$chdir/format_schemas/</format_schema_path><users_config>$chdir/users.xml</users_config>
<default_profile>default</default_profile><default_database>default</default_database><mark_cache_size>268435456</mark_cache_size></yandex>
XML
/usr/sbin/clickhouse-server --config-file="$chdir/config.xml" >/dev/null 2>&1 & pids+=($!)
until curl -sf "http://127.0.0.1:$chport/ping" >/dev/null; do sleep 0.1; done
for compression in none gzip; do
  cat > "$work/clickhouse-$compression.toml" <<TOML
[connector]
name = "bench-clickhouse"
[sink]
topics = ["/default/bench"]
subscription = "bench"
[runtime]
memory_limit_mb = 512
[capabilities.http]
allowed_hosts = ["http://127.0.0.1:*"]
[config]
url = "http://127.0.0.1:$chport"
table = "bench_$compression"
compression = "$compression"
create_table = "CREATE TABLE default.bench_$compression (id UInt64, pad String) ENGINE = MergeTree ORDER BY id"
TOML
  for batch in 100000 10000; do
    /usr/bin/time -f "host: %U s user, %S s sys, max RSS %M KB" -o "$work/time" \
      "$HOST" bench --cache-dir "$work/cache" --component "$W/sink_clickhouse.wasm" --config "$work/clickhouse-$compression.toml" \
      --messages 1000000 --batch-size "$batch" --payload-bytes 1024 --figures "$BENCH_FIGURES"
    cat "$work/time"
    rss=$(awk '/max RSS/ {printf "%.1f", $(NF-1) / 1024}' "$work/time")
    [ -z "$rss" ] || figure "ceiling sink_clickhouse (clickhouse-$compression.toml), batches of $batch × 1024 B: host max RSS" "$rss" MiB
  done
done
"$BENCH" e2e --sink clickhouse --messages 100000 --payload-bytes 1024 --producers 4 \
  --max-unacked 20000 --max-ahead 20000 --batch-size 10000 --batch-timeout-ms 1000 --linger-ms 200
if [ -n "${DANUBE_SERVICE_URL:-}" ]; then
  for buffer in "" --buffer; do
    "$BENCH" e2e --sink clickhouse --danube-url "$DANUBE_SERVICE_URL" --messages 20000 --payload-bytes 1024 \
      --producers 4 --batch-size 10000 --batch-timeout-ms 1000 $buffer
  done
fi

echo "== every figure above (target/bench/figures.jsonl; with the machine in target/bench/latest.json)"
"$BENCH" table --figures "$BENCH_FIGURES" --json "$PWD/target/bench/latest.json"
