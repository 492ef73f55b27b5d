#!/usr/bin/env bash
# Overload shedding on one core: one Kairos instance pinned to core 0, an
# open-loop load above its capacity from core 1, once with shedding on (the
# default) and once with it off, so the two runs show what shedding changes.
#
#   bench/overload.sh                     # 30,000 req/s for 6s each
#   OVERLOAD_RATE=40000 bench/overload.sh
#
# Settings: OVERLOAD_RATE (30000), OVERLOAD_DURATION (6s), OVERLOAD_WORKERS
# (256 connections), OVERLOAD_OUT (out/overload), OVERLOAD_ONLY_SHED (set: skip the
# run without shedding). A private redis-server runs
# pinned to the load core with the 100k perf profiles imported.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${OVERLOAD_RATE:-30000}
DURATION=${OVERLOAD_DURATION:-6s}
WORKERS=${OVERLOAD_WORKERS:-256}
OUT=${OVERLOAD_OUT:-out/overload}
PORT=16479
TOKEN=overload-token-0123456789
ADDR=127.0.0.1:18280 ADMIN=127.0.0.1:18281
command -v redis-server >/dev/null || { echo "overload: needs redis-server" >&2; exit 2; }
mkdir -p "$OUT"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

go build -o "$OUT/kairos" ./cmd/kairos
go build -o "$OUT/kairos-bench" ./cmd/kairos-bench
go build -o "$OUT/kairosctl" ./cmd/kairosctl
B=$OUT/kairos-bench
"$B" corpus -n 10000 -seed 1 -known-share 0.8 -o "$OUT/corpus" 2>/dev/null
"$B" profiles -n 100000 -seed 1 -o "$OUT/profiles.jsonl" 2>/dev/null
taskset -c 1 redis-server --bind 127.0.0.1 --port "$PORT" --save "" --appendonly no >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done

run() { # label shed-target-lag
  redis-cli -p "$PORT" flushall >/dev/null
  env KAIROS_REDIS_URL=redis://127.0.0.1:$PORT KAIROS_LISTEN=$ADDR KAIROS_ADMIN_LISTEN=$ADMIN \
    KAIROS_PUBLIC_URL=https://$ADDR KAIROS_ADMIN_TOKEN=$TOKEN KAIROS_NOTICE_SECRET=overload-secret-0123456789abcdef \
    KAIROS_LOG_LEVEL=warn KAIROS_CAMPAIGNS=bench/perf-campaigns.yaml KAIROS_TCF_VENDOR_ID=1000 \
    KAIROS_SHED_TARGET_LAG="$2" taskset -c 0 "$OUT/kairos" >"$OUT/$1-server.log" 2>&1 &
  local sp=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://$ADDR/healthz" && break; sleep 0.2; done
  KAIROS_ADMIN_URL=http://$ADMIN KAIROS_ADMIN_TOKEN=$TOKEN "$OUT/kairosctl" segments import "$OUT/profiles.jsonl" >/dev/null
  taskset -c 1 "$B" attack -target "$ADDR" -rate "$RATE" -workers "$WORKERS" -duration "$DURATION" \
    -corpus "$OUT/corpus" -seed 1 -auction none -label "$1" -output "$OUT/$1.json" >"$OUT/$1.txt" 2>&1
  kill "$sp"; wait "$sp" 2>/dev/null || true
  echo "== $1 (KAIROS_SHED_TARGET_LAG=$2), $RATE req/s open loop, $WORKERS connections, $DURATION"
  grep -E 'throughput|latency|service time|answers|late from|no-bid' "$OUT/$1.txt"
}
run shedding 5ms
[ -n "${OVERLOAD_ONLY_SHED:-}" ] || run no-shedding -1ms
