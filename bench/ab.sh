#!/usr/bin/env bash
# A/B: two builds of Kairos measured in interleaved closed-loop rounds on the
# perf corpus, the way bench/perf.sh measures Kairos against the baseline:
# each server pinned to core AB_SERVER_CPU (0), the load generator and a
# private redis-server to AB_LOAD_CPU (1), both servers started once with the
# 100k perf profiles imported, and rounds of A then B, so each round's ratio
# compares runs seconds apart on a host whose load drifts.
#
#   bench/ab.sh REV_A REV_B            # git revisions, e.g. HEAD~1 HEAD
#   AB_ROUNDS=5 AB_DURATION=10s bench/ab.sh main my-branch
#
# Prints each round's req/s and B/A and the median ratio. Output in AB_OUT
# (out/ab).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: bench/ab.sh REV_A REV_B" >&2; exit 2; }
ROUNDS=${AB_ROUNDS:-3} DURATION=${AB_DURATION:-8s} OUT=${AB_OUT:-out/ab}
SERVER_CPU=${AB_SERVER_CPU:-0} LOAD_CPU=${AB_LOAD_CPU:-1} PORT=${AB_REDIS_PORT:-16390}
TOKEN=ab-token-$RANDOM$RANDOM
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for r in a b; do git worktree remove --force "$OUT/src-$r" 2>/dev/null || true; done
}
trap cleanup EXIT

build() { # build REV NAME
  git worktree remove --force "$OUT/src-$2" 2>/dev/null || true
  git worktree add -q --detach "$OUT/src-$2" "$1"
  (cd "$OUT/src-$2" && go build -o "$OUT/kairos-$2" ./cmd/kairos)
}
echo "== building $1 (A) and $2 (B)"
build "$1" a
build "$2" b
go build -o "$OUT/kairos-bench" ./cmd/kairos-bench
go build -o "$OUT/kairosctl" ./cmd/kairosctl
rm -rf "$OUT/corpus"
"$OUT/kairos-bench" corpus -n 10000 -seed 1 -known-share 0.8 -o "$OUT/corpus" 2>/dev/null
"$OUT/kairos-bench" profiles -n 100000 -seed 1 -o "$OUT/profiles.jsonl" 2>/dev/null

taskset -c "$LOAD_CPU" redis-server --bind 127.0.0.1 --port "$PORT" --save "" --appendonly no \
  --logfile "$OUT/redis.log" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done

start() { # start NAME PORT: Kairos as perf.sh runs it
  env -u KAIROS_REDIS_URL KAIROS_REDIS_URL="redis://127.0.0.1:$PORT" KAIROS_REDIS_PREFIX="ab-$1:" \
    KAIROS_LISTEN="127.0.0.1:$2" KAIROS_ADMIN_LISTEN="127.0.0.1:$(($2 + 1))" KAIROS_PUBLIC_URL="https://127.0.0.1:$2" \
    KAIROS_ADMIN_TOKEN="$TOKEN" KAIROS_NOTICE_SECRET=ab-notice-secret-0123456789abcdef KAIROS_LOG_LEVEL=warn \
    KAIROS_CAMPAIGNS=bench/perf-campaigns.yaml KAIROS_TCF_VENDOR_ID=1000 KAIROS_SHED_TARGET_LAG=-1ms \
    taskset -c "$SERVER_CPU" "$OUT/kairos-$1" >"$OUT/kairos-$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$2/healthz" >/dev/null && break; sleep 0.2; done
  KAIROS_ADMIN_URL="http://127.0.0.1:$(($2 + 1))" KAIROS_ADMIN_TOKEN="$TOKEN" \
    "$OUT/kairosctl" segments import "$OUT/profiles.jsonl" >/dev/null
}
start a 18380
start b 18382
rm -f "$OUT/ratios"
for r in $(seq 1 "$ROUNDS"); do
  for x in a:18380 b:18382; do
    taskset -c "$LOAD_CPU" "$OUT/kairos-bench" attack -target "127.0.0.1:${x#*:}" -rate 0 -workers 64 \
      -duration "$DURATION" -corpus "$OUT/corpus" -auction none -output "$OUT/${x%%:*}-$r.json" >/dev/null 2>&1
  done
  qa=$("$OUT/kairos-bench" report -get throughput "$OUT/a-$r.json")
  qb=$("$OUT/kairos-bench" report -get throughput "$OUT/b-$r.json")
  ratio=$(awk -v a="$qa" -v b="$qb" 'BEGIN { printf "%.3f", b / a }')
  echo "$ratio" >>"$OUT/ratios"
  printf 'round %d: A %.0f req/s, B %.0f req/s, B/A %s\n' "$r" "$qa" "$qb" "$ratio"
done
echo "median B/A: $(sort -n "$OUT/ratios" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')"
