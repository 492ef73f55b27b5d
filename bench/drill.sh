#!/usr/bin/env bash
# Failure drill: several Kairos instances on a local Redis Cluster (3 masters,
# 3 replicas) under steady load, one fault after another, and a table per
# fault: requests, bids, late answers, errors, 5xx, settled spend against
# budget, and how long after the fault bidding was back.
#
#   bench/drill.sh                 # full form, about 4 minutes
#   DRILL_SHORT=1 bench/drill.sh   # short form for CI, under 2 minutes
#
# Faults, in order (each phase applies a fresh campaign drill-<fault> with a
# small budget, so overspend would show; the other campaigns keep bidding):
#   baseline     nothing: the reference bid rate
#   redis-master a Redis master is killed (SIGKILL); its replica takes over
#                (the fault ends when the cluster is healthy again), then
#                the old master comes back as a replica
#   kairos-kill  instance 3 is killed (SIGKILL) and taken out of the load;
#                its bids' notices go on to instance 1 (every instance's
#                public URL is instance 1, as behind one load balancer)
#   redis-flush  Redis restarts empty (FLUSHALL on every master); the fault
#                ends when the operator re-applies the campaigns and restores
#                each ledger (POST /v1/pacing/<id>/restore, from an
#                instance's last view of it)
#   overload     a second load at many times the capacity for a few seconds
#
# Exits 1 when a row fails its checks (no answer late from its send, no 5xx, settled spend
# <= budget, bidding back within 5s). Ports: 17000-17005 (bus 17500-17505),
# Kairos 17600+. Everything it starts is stopped on exit. Output in out/drill/.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${DRILL_OUT:-out/drill}
INSTANCES=${DRILL_INSTANCES:-3}
RATE=${DRILL_RATE:-300}
OVERLOAD_RATE=${DRILL_OVERLOAD_RATE:-20000}
if [ -n "${DRILL_SHORT:-}" ]; then PHASE=12 FAULT_AT=3 OVERLOAD_FOR=4s; else PHASE=30 FAULT_AT=8 OVERLOAD_FOR=10s; fi
TOKEN=drill-admin-token-0123456789
SECRET=drill-notice-secret-0123456789abcdef
PREFIX=drill:
PORTS=(17000 17001 17002 17003 17004 17005)

# DRILL_PIN=1 pins Kairos's instances to core DRILL_SERVER_CPU (0) and the
# simulated exchange and the Redis nodes to DRILL_LOAD_CPU (1; Redis to
# DRILL_REDIS_CPU), as bench/perf.sh does: the instances then share one core
# and a real overload reaches them. The default leaves everything unpinned:
# the generator takes most of a core at 20,000 req/s, so the instances rarely
# saturate, and the late answers it measures are mostly its own stalls (the
# table's "beyond generator stalls" figure leaves those out).
PIN_SERVER=(); PIN_LOAD=(); PIN_REDIS=()
if [ "${DRILL_PIN:-0}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN_SERVER=(taskset -c "${DRILL_SERVER_CPU:-0}"); PIN_LOAD=(taskset -c "${DRILL_LOAD_CPU:-1}")
  PIN_REDIS=(taskset -c "${DRILL_REDIS_CPU:-${DRILL_LOAD_CPU:-1}}")
fi

command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
  echo "drill: needs redis-server and redis-cli (apt-get install redis-server)" >&2; exit 2; }
rm -rf "$OUT" && mkdir -p "$OUT/bin"
OUT=$(cd "$OUT" && pwd)
EVENTS=$OUT/events.log TARGETS=$OUT/targets

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${PORTS[@]}"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

now() { date +%s.%N; }
event() { echo "$(now) $*" >>"$EVENTS"; echo "drill: $*" >&2; }
rcli() { redis-cli -p "$1" "${@:2}"; }

echo "drill: building" >&2
go build -o "$OUT/bin/kairos" ./cmd/kairos
go build -o "$OUT/bin/kairos-bench" ./cmd/kairos-bench

# --- Redis Cluster: 3 masters, 3 replicas ----------------------------------
start_redis() {
  local p=$1 d=$OUT/redis-$1
  mkdir -p "$d"
  "${PIN_REDIS[@]}" redis-server --port "$p" --cluster-port $((p + 500)) --bind 127.0.0.1 --cluster-enabled yes \
    --cluster-config-file nodes.conf --cluster-node-timeout 2000 --cluster-require-full-coverage no \
    --dir "$d" --save "" --appendonly no --logfile "$d/redis.log" --daemonize no &
  PIDS+=($!)
  REDIS_PID[$p]=$!
}
declare -A REDIS_PID
for p in "${PORTS[@]}"; do start_redis "$p"; done
for p in "${PORTS[@]}"; do until rcli "$p" ping >/dev/null 2>&1; do sleep 0.05; done; done
redis-cli --cluster create $(printf '127.0.0.1:%s ' "${PORTS[@]}") --cluster-replicas 1 --cluster-yes >"$OUT/cluster-create.log"
cluster_ok() { # every live node reports state ok and all slots served
  for p in "${PORTS[@]}"; do
    rcli "$p" ping >/dev/null 2>&1 || continue
    rcli "$p" cluster info | grep -q 'cluster_state:ok' || return 1
    rcli "$p" cluster info | grep -q 'cluster_slots_ok:16384' || return 1
  done
}
until cluster_ok; do sleep 0.1; done
masters() { rcli "${1:-17001}" cluster nodes | awk '$3 ~ /master/ && $3 !~ /fail/ {split($2, a, "[:@]"); print a[2]}'; }
REDIS_URL="redis://127.0.0.1:17000?addr=127.0.0.1:17001&addr=127.0.0.1:17002"
echo "drill: cluster up, masters $(masters | tr '\n' ' ')" >&2

# --- Kairos instances --------------------------------------------------------
bid_addr() { echo "127.0.0.1:$((17600 + 2 * $1))"; }
admin_addr() { echo "127.0.0.1:$((17601 + 2 * $1))"; }
declare -A KAIROS_PID
start_kairos() {
  local i=$1
  KAIROS_REDIS_URL=$REDIS_URL KAIROS_REDIS_PREFIX=$PREFIX KAIROS_ADMIN_TOKEN=$TOKEN KAIROS_NOTICE_SECRET=$SECRET \
    KAIROS_LISTEN=$(bid_addr "$i") KAIROS_ADMIN_LISTEN=$(admin_addr "$i") KAIROS_PUBLIC_URL=http://$(bid_addr 1) \
    KAIROS_CAMPAIGNS=bench/perf-campaigns.yaml KAIROS_TCF_VENDOR_ID=1000 KAIROS_LOG_LEVEL=warn \
    KAIROS_CAMPAIGN_RESYNC=2s "${PIN_SERVER[@]}" "$OUT/bin/kairos" >>"$OUT/kairos-$i.log" 2>&1 &
  PIDS+=($!)
  KAIROS_PID[$i]=$!
  for _ in $(seq 1 200); do
    curl -sf "http://$(bid_addr "$i")/healthz" >/dev/null && return
    sleep 0.05
  done
  echo "drill: instance $i did not start:" >&2; tail -20 "$OUT/kairos-$i.log" >&2; exit 1
}
set_targets() { for i in "$@"; do bid_addr "$i"; done >"$TARGETS.tmp"; mv "$TARGETS.tmp" "$TARGETS"; }
ALL=$(seq 1 "$INSTANCES")
for i in $ALL; do start_kairos "$i"; done
set_targets $ALL
echo "drill: $INSTANCES instances up" >&2

admin() { # admin METHOD PATH [instance] [body file]
  curl -sf -X "$1" -H "Authorization: Bearer $TOKEN" ${4:+--data-binary @"$4"} "http://$(admin_addr "${3:-1}")$2"
}
# A campaign with a small budget that outbids the others, one per phase.
BUDGET_MICROS=1500000
capped() {
  sed -n '/^id: perf-trail-runner/,/^---/p' bench/perf-campaigns.yaml | grep -v '^---' |
    sed -e "s/^id: .*/id: drill-$1/" -e "s/^name: .*/name: Drill $1/" \
      -e "s/^budget: .*/budget: {daily: 1.50, total: 1.50, currency: USD}/" -e 's/base_cpm: .*/base_cpm: 6.00/' \
      -e "s/- id: pt-/- id: d$1-/" >"$OUT/drill-$1.yaml"
  admin POST /v1/campaigns 1 "$OUT/drill-$1.yaml" >/dev/null
}
ledger() { # spent budget late (micros) of campaign $1, read through any live node
  local p v
  for p in "${PORTS[@]}"; do rcli "$p" ping >/dev/null 2>&1 && break; done
  v=$(redis-cli -c -p "$p" hmget "$PREFIX{b:$1}:ledger" tspent tlate | tr '\n' ' ')
  set -- $v
  echo "${1:-0} $BUDGET_MICROS ${2:-0}"
}
spend_event() { event spend "$1" $(ledger "drill-$1"); }

"${PIN_LOAD[@]}" "$OUT/bin/kairos-bench" drill-load -rate "$RATE" -duration 1h -window 500ms -known-share 0 \
  -targets-file "$TARGETS" -output "$OUT/timeline.jsonl" 2>"$OUT/load.log" &
LOAD_PID=$!
PIDS+=($LOAD_PID)

phase_rest() { sleep $((PHASE - FAULT_AT - ${1:-0})); }

# --- baseline ----------------------------------------------------------------
event start baseline; capped baseline
sleep "$PHASE"; event end baseline; spend_event baseline

# --- a Redis master dies, its replica takes over ------------------------------
event start redis-master; capped redis-master
sleep "$FAULT_AT"
VICTIM=$(masters | head -1)
kill -9 "${REDIS_PID[$VICTIM]}"
echo "drill: killed the Redis master on $VICTIM" >&2
t0=$(date +%s)
until rcli "$(masters 17005 | grep -v "$VICTIM" | head -1)" cluster info 2>/dev/null | grep -q cluster_state:ok &&
  [ "$(masters 17005 | grep -vc "$VICTIM")" -ge 3 ]; do sleep 0.1; done
event end redis-master
echo "drill: failover done in $(($(date +%s) - t0))s; masters $(masters 17005 | tr '\n' ' ')" >&2
start_redis "$VICTIM"
sleep $((PHASE - FAULT_AT - $(date +%s) + t0 > 0 ? PHASE - FAULT_AT - $(date +%s) + t0 : 1))
spend_event redis-master

# --- a Kairos instance is killed -----------------------------------------------
event start kairos-kill; capped kairos-kill
sleep "$FAULT_AT"
set_targets $(seq 1 $((INSTANCES - 1)))
kill -9 "${KAIROS_PID[$INSTANCES]}"
event end kairos-kill
phase_rest
spend_event kairos-kill
start_kairos "$INSTANCES"
set_targets $ALL

# --- Redis restarts empty -------------------------------------------------------
event start redis-flush; capped redis-flush
sleep "$FAULT_AT"
read -r before _ _ < <(ledger drill-redis-flush)
for p in $(masters 17005); do rcli "$p" flushall >/dev/null; done
echo "drill: FLUSHALL on every master (drill-redis-flush had spent $before)" >&2
sleep 3 # what Kairos does meanwhile is in the table
admin POST /v1/campaigns 1 bench/perf-campaigns.yaml >/dev/null
admin POST /v1/campaigns 1 "$OUT/drill-redis-flush.yaml" >/dev/null
# The operator restores each ledger from an instance's last view of it
# (leased budget counted as spent); every instance resumes at its next tick.
for c in perf-trail-runner perf-city-bike drill-redis-flush; do
  for i in $ALL; do admin POST "/v1/pacing/$c/restore" "$i" >/dev/null && break; done
done
event end redis-flush
phase_rest 3
read -r after _ late < <(ledger drill-redis-flush)
# The restored ledger carries the spend from before the flush (and what was
# leased then), so its total is the campaign's whole spend.
event spend redis-flush "$after" "$BUDGET_MICROS" "$late"

# --- overload -------------------------------------------------------------------
event start overload; capped overload
sleep "$FAULT_AT"
"${PIN_LOAD[@]}" "$OUT/bin/kairos-bench" drill-load -rate "$OVERLOAD_RATE" -duration "$OVERLOAD_FOR" -window "$OVERLOAD_FOR" \
  -known-share 0 -targets-file "$TARGETS" -output "$OUT/overload.jsonl" 2>"$OUT/overload.log" || true
event end overload
event attack overload "$OUT/overload.jsonl"
phase_rest 5
spend_event overload

kill "$LOAD_PID"; wait "$LOAD_PID" 2>/dev/null || true
"$OUT/bin/kairos-bench" drill-table -timeline "$OUT/timeline.jsonl" -events "$EVENTS" | tee "$OUT/table.md"
