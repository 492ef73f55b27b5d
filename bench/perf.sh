#!/usr/bin/env bash
# Reproduces the README performance table: Kairos against the decode-only baseline
# server, on the same generated corpus, each server pinned to one core and the load
# generator to another.
#
#   bench/perf.sh                      # 10s per run
#   PERF_DURATION=3s bench/perf.sh     # short mode
#
# Steps: build kairos-bench and cmd/kairos; write the corpus and 100k profiles
# once; measure the load generator's ceiling against a null server; start the
# baseline, Kairos (on a private redis-server, the profiles imported through the
# admin API) and the baseline with each width of busy work, all on core
# PERF_SERVER_CPU; run PERF_ROUNDS interleaved rounds of closed-loop attacks from
# core PERF_LOAD_CPU, sampling the server's CPU use so the table shows the server
# (not the load generator) was the bottleneck; then an open-loop run of both
# servers at half of Kairos's maximum rate for latency. Results land in PERF_OUT
# (default out/perf) as JSON, text reports and perf.md.
#
# Settings (environment): PERF_DURATION (10s; seconds "Ns" or minutes "Nm"),
# PERF_OUT (out/perf), PERF_WORKERS (64, requests in flight in closed loop),
# PERF_CORPUS (10000 requests), PERF_SEED (1), PERF_AUCTION (none; first or
# second also fire notices at Kairos), PERF_SERVER_CPU (0), PERF_LOAD_CPU (1),
# PERF_REDIS (a Redis URL; default: a private redis-server pinned to the load
# core, on PERF_REDIS_PORT 16379), PERF_WORK_SWEEP ("2us 4us 8us": busy work per
# request added to the baseline, to show how little work the 80% target leaves
# room for; empty skips it), PERF_ROUNDS (3 interleaved rounds of closed-loop
# runs; the table shows the median), PERF_PROFILE (1: one more closed-loop run
# of Kairos with a CPU profile into PERF_OUT/kairos-cpu.pprof).
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${PERF_DURATION:-10s}
OUT=${PERF_OUT:-out/perf}
WORKERS=${PERF_WORKERS:-64}
CORPUS_N=${PERF_CORPUS:-10000}
SEED=${PERF_SEED:-1}
AUCTION=${PERF_AUCTION:-none}
SWEEP=${PERF_WORK_SWEEP-2us 4us 8us}
ROUNDS=${PERF_ROUNDS:-3}
KNOWN=${PERF_KNOWN:-0.8}
REDIS=${PERF_REDIS:-}
TOKEN=perf-token-$RANDOM$RANDOM$RANDOM
PREFIX=perf$RANDOM:
SERVER_CPU=${PERF_SERVER_CPU:-0}
LOAD_CPU=${PERF_LOAD_CPU:-1}
BASE_ADDR=127.0.0.1:18090
KAIROS_ADDR=127.0.0.1:18080
KAIROS_ADMIN=127.0.0.1:18081

case "$DURATION" in
  *s) SECS=${DURATION%s} ;;
  *m) SECS=$(( ${DURATION%m} * 60 )) ;;
  *) echo "perf: PERF_DURATION must look like 10s or 2m, not $DURATION" >&2; exit 2 ;;
esac
[[ "$SECS" =~ ^[0-9]+$ && "$SECS" -ge 2 ]] || { echo "perf: PERF_DURATION must be at least 2s" >&2; exit 2; }

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap 'cleanup; drop_keys 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM

# PIN_SERVER and PIN_LOAD prefix commands; taskset execs the command, so $! of a
# background job is the server's own pid (for kill and for /proc/PID/stat).
PIN=1
if ! command -v taskset >/dev/null; then
  echo "perf: taskset not found: servers and load generator are NOT pinned; ratios are less trustworthy" >&2
  PIN=0
elif [ "$(nproc)" -lt 2 ]; then
  echo "perf: fewer than 2 CPUs: cannot pin server and load generator apart" >&2
  PIN=0
fi
PIN_SERVER=(); PIN_LOAD=()
if [ "$PIN" = 1 ]; then PIN_SERVER=(taskset -c "$SERVER_CPU"); PIN_LOAD=(taskset -c "$LOAD_CPU"); fi

# healthy URL SECONDS waits until URL answers 200.
healthy() {
  local url=$1 deadline=$((SECONDS + $2))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "$url" 2>/dev/null)" = 200 ]; then return 0; fi
    sleep 0.2
  done
  return 1
}

# cpu_ticks PID prints the user+system clock ticks the process has used;
# sys_ticks PID the system (kernel) ones alone.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sys_ticks() { awk '{print $15}' "/proc/$1/stat"; }
# core_ticks CPU prints "busy total" clock ticks of one core, from /proc/stat.
core_ticks() { awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }
HZ=$(getconf CLK_TCK)

mkdir -p "$OUT"
rm -f "$OUT"/rounds.*
# Redis is another machine's work in production: unless PERF_REDIS names one,
# a private redis-server runs pinned to the load generator's core, so that its
# CPU time is not taken from the server's core (an unpinned Redis is woken on
# the core that writes to it and preempts Kairos there).
if [ -z "$REDIS" ] && command -v redis-server >/dev/null; then
  REDIS_PORT=${PERF_REDIS_PORT:-16379}
  "${PIN_LOAD[@]}" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --logfile "$OUT/redis.log" >/dev/null 2>&1 &
  pids+=($!)
  REDIS=redis://127.0.0.1:$REDIS_PORT
  for _ in $(seq 1 50); do redis-cli -u "$REDIS" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  echo "== private redis-server on $REDIS$([ "$PIN" = 1 ] && echo ", pinned to core $LOAD_CPU")"
fi
REDIS=${REDIS:-redis://127.0.0.1:6379}
echo "== building"
go build -o "$OUT/kairos-bench" ./cmd/kairos-bench
BENCH="$OUT/kairos-bench"
KAIROS_BIN=""
if [ -f cmd/kairos/main.go ]; then
  if go build -o "$OUT/kairos" ./cmd/kairos 2>"$OUT/kairos-build.log"; then
    KAIROS_BIN="$OUT/kairos"
  else
    echo "perf: cmd/kairos does not build (see $OUT/kairos-build.log); Kairos rows are skipped" >&2
  fi
else
  echo "perf: cmd/kairos does not exist yet; Kairos rows are skipped" >&2
fi

echo "== corpus: $CORPUS_N generated requests, seed $SEED"
rm -rf "$OUT/corpus"
"$BENCH" corpus -n "$CORPUS_N" -seed "$SEED" -known-share "$KNOWN" -o "$OUT/corpus" 2>/dev/null
"$BENCH" profiles -n 100000 -seed "$SEED" -o "$OUT/profiles.jsonl" 2>/dev/null
go build -o "$OUT/kairosctl" ./cmd/kairosctl
REDIS_ARGS=()
if redis-cli -u "$REDIS" ping 2>/dev/null | grep -q PONG; then
  REDIS_ARGS=(KAIROS_REDIS_URL="$REDIS" KAIROS_REDIS_PREFIX="$PREFIX")
  echo "== Kairos runs on the real Redis at $REDIS (key prefix $PREFIX, removed afterwards)"
else
  echo "perf: no Redis answers at $REDIS: Kairos runs on its embedded Redis, on the server's core" >&2
fi
drop_keys() {
  [ ${#REDIS_ARGS[@]} -gt 0 ] || return 0
  redis-cli -u "$REDIS" --scan --pattern "$PREFIX*" | xargs -r -n 500 redis-cli -u "$REDIS" del >/dev/null
}

# attack LABEL ADDR RATE [PID] runs one attack from the load core; with PID it
# samples the CPU use of that server and of the load generator over the middle
# of the run into $OUT/LABEL.cpu and $OUT/LABEL.loadcpu (percent of one core),
# and how busy the server's core was, by anyone, into $OUT/LABEL.corebusy: on a
# shared machine other processes take part of the core.
attack() {
  local label=$1 addr=$2 rate=$3 pid=${4:-}
  "${PIN_LOAD[@]}" "$BENCH" attack -target "$addr" -rate "$rate" -workers "$WORKERS" \
    -duration "$DURATION" -corpus "$OUT/corpus" -seed "$SEED" -auction "$AUCTION" \
    -label "$label" -output "$OUT/$label.json" >"$OUT/$label.txt" 2>"$OUT/$label.log" &
  local apid=$!
  if [ -n "$pid" ]; then
    sleep 1
    local t0 l0 s0 t1 l1 s1 c0 c1 k0 k1
    t0=$(cpu_ticks "$pid"); l0=$(cpu_ticks "$apid"); c0=$(core_ticks "$SERVER_CPU"); k0=$(sys_ticks "$pid"); s0=$(date +%s.%N)
    sleep $((SECS > 3 ? SECS - 2 : 1))
    t1=$(cpu_ticks "$pid"); l1=$(cpu_ticks "$apid"); c1=$(core_ticks "$SERVER_CPU"); k1=$(sys_ticks "$pid"); s1=$(date +%s.%N)
    echo "$c0 $c1" | awk '{ printf "%.0f\n", 100 * ($3 - $1) / ($4 - $2) }' >"$OUT/$label.corebusy"
    percent() { awk -v t="$1" -v hz="$HZ" -v s0="$s0" -v s1="$s1" 'BEGIN { printf "%.0f\n", 100 * t / hz / (s1 - s0) }'; }
    percent $((t1 - t0)) >"$OUT/$label.cpu"
    percent $((k1 - k0)) >"$OUT/$label.syscpu"
    percent $((l1 - l0)) >"$OUT/$label.loadcpu"
  fi
  wait "$apid" || { echo "perf: attack $label failed:" >&2; cat "$OUT/$label.log" >&2; exit 1; }
}
get() { "$BENCH" report -get "$1" "$OUT/$2.json"; }
# us_per_req PERCENT RATE: microseconds of server CPU per answered request.
us_per_req() { awk -v c="$1" -v q="$2" 'BEGIN { if (q > 0) printf "%.2f", c * 10000 / q; else print 0 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2fx", b / a; else print "-" }'; }
fmt() { awk -v v="$1" 'BEGIN { printf "%.2f", v }'; }

# start_baseline ADDR [FLAGS] starts a decode-only server pinned to the server
# core and sets SERVER_PID; start_kairos does the same for Kairos.
start_baseline() {
  local addr=$1; shift
  "${PIN_SERVER[@]}" "$BENCH" baseline -listen "$addr" "$@" >"$OUT/baseline-server-${addr##*:}.log" 2>&1 &
  SERVER_PID=$!; pids+=("$SERVER_PID")
  healthy "http://$addr/healthz" 10 || { echo "perf: baseline did not start:" >&2; cat "$OUT/baseline-server-${addr##*:}.log" >&2; exit 1; }
}
# Kairos runs as in production: https public URL (the generated impressions are
# secure), its own campaigns with budgets that do not run dry during the run, and
# the 100k profiles imported through the admin API; overload shedding is off, so
# that the closed-loop maximum measures requests fully decided, not shed.
start_kairos() {
  env -u KAIROS_REDIS_URL "${REDIS_ARGS[@]}" KAIROS_LISTEN="$KAIROS_ADDR" KAIROS_ADMIN_LISTEN="$KAIROS_ADMIN" \
    KAIROS_PUBLIC_URL="https://$KAIROS_ADDR" KAIROS_ADMIN_TOKEN="$TOKEN" \
    KAIROS_NOTICE_SECRET="perf-notice-secret-0123456789abcdef" KAIROS_LOG_LEVEL=warn \
    KAIROS_CAMPAIGNS=bench/perf-campaigns.yaml KAIROS_TCF_VENDOR_ID=1000 KAIROS_SHED_TARGET_LAG=-1ms \
    "${PIN_SERVER[@]}" "$KAIROS_BIN" >"$OUT/kairos-server.log" 2>&1 &
  SERVER_PID=$!; pids+=("$SERVER_PID")
  healthy "http://$KAIROS_ADDR/healthz" 60 || { echo "perf: Kairos did not become healthy:" >&2; tail -20 "$OUT/kairos-server.log" >&2; exit 1; }
  local t0 t1
  t0=$(date +%s.%N)
  KAIROS_ADMIN_URL="http://$KAIROS_ADMIN" KAIROS_ADMIN_TOKEN="$TOKEN" "$OUT/kairosctl" segments import "$OUT/profiles.jsonl" >"$OUT/import.txt"
  t1=$(date +%s.%N)
  IMPORT_RATE=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", 100000 / (b - a) }')
  echo "imported 100000 profiles through the admin API in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')s: $IMPORT_RATE profiles/s"
}
stop_server() { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }

echo "== load generator ceiling: null server (answers without decoding), closed loop, $DURATION"
start_baseline "$BASE_ADDR" -no-decode
attack null-max "$BASE_ADDR" 0 "$SERVER_PID"
stop_server
NULL_QPS=$(get throughput null-max)
echo "null server: $(printf '%.0f' "$NULL_QPS") req/s, load generator CPU $(cat "$OUT/null-max.loadcpu")% of one core"

# The maximum rates are measured in ROUNDS interleaved rounds (baseline, Kairos,
# then the baseline with each width of busy work), all servers started once and
# idle while another is measured: the host's load drifts by 2x within minutes,
# so each round's ratio compares runs a few seconds apart, and the table shows
# the median round.
start_baseline "$BASE_ADDR"; BASE_PID=$SERVER_PID
KAIROS_PID=""
if [ -n "$KAIROS_BIN" ]; then start_kairos; KAIROS_PID=$SERVER_PID; fi
WORK_ADDRS=(); WORK_PIDS=(); port=18092
for w in $SWEEP; do
  start_baseline "127.0.0.1:$port" -work "$w"
  WORK_ADDRS+=("127.0.0.1:$port"); WORK_PIDS+=("$SERVER_PID"); port=$((port + 1))
done
for r in $(seq 1 "$ROUNDS"); do
  echo "== round $r of $ROUNDS: closed loop, $DURATION per server"
  attack "baseline-max-$r" "$BASE_ADDR" 0 "$BASE_PID"
  b=$(get throughput "baseline-max-$r")
  line="baseline $(printf '%.0f' "$b") req/s"
  if [ -n "$KAIROS_PID" ]; then
    attack "kairos-max-$r" "$KAIROS_ADDR" 0 "$KAIROS_PID"
    k=$(get throughput "kairos-max-$r")
    echo "$(awk -v a="$b" -v b="$k" 'BEGIN { printf "%.4f", b / a }') $r" >>"$OUT/rounds.kairos"
    line="$line, Kairos $(printf '%.0f' "$k") req/s ($(ratio "$b" "$k"))"
  fi
  i=0
  for w in $SWEEP; do
    attack "work-$w-$r" "${WORK_ADDRS[$i]}" 0 "${WORK_PIDS[$i]}"
    q=$(get throughput "work-$w-$r")
    echo "$(awk -v a="$b" -v b="$q" 'BEGIN { printf "%.4f", b / a }')" >>"$OUT/rounds.work-$w"
    line="$line, +$w $(ratio "$b" "$q")"
    i=$((i + 1))
  done
  echo "$line"
done
# median FILE prints the median of the first column; median_round FILE the
# second column of the median line (the round it came from).
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
median_round() { sort -n "$1" | awk '{ v[NR] = $2 } END { print v[int((NR + 1) / 2)] }'; }
ratios() { awk '{ printf "%s%.2fx", (NR > 1 ? ", " : ""), $1 }' "$1"; }
# The tables below show the median round (by Kairos's ratio) as baseline-max and
# kairos-max.
M=1
[ -z "$KAIROS_PID" ] || M=$(median_round "$OUT/rounds.kairos")
for f in json txt cpu syscpu loadcpu corebusy; do
  cp "$OUT/baseline-max-$M.$f" "$OUT/baseline-max.$f"
  [ -z "$KAIROS_PID" ] || cp "$OUT/kairos-max-$M.$f" "$OUT/kairos-max.$f"
done
BASE_QPS=$(get throughput baseline-max)
BASE_CPU=$(cat "$OUT/baseline-max.cpu"); BASE_LOAD=$(cat "$OUT/baseline-max.loadcpu")
BASE_CORE=$(cat "$OUT/baseline-max.corebusy")
echo "median round ($M): baseline $(printf '%.0f' "$BASE_QPS") req/s, server CPU ${BASE_CPU}% (core $SERVER_CPU busy ${BASE_CORE}%), load generator CPU ${BASE_LOAD}%"
for p in "${WORK_PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done

if [ -n "$KAIROS_PID" ]; then
  KAIROS_QPS=$(get throughput kairos-max)
  KAIROS_CPU=$(cat "$OUT/kairos-max.cpu"); KAIROS_LOAD=$(cat "$OUT/kairos-max.loadcpu")
  KAIROS_CORE=$(cat "$OUT/kairos-max.corebusy")
  echo "median round ($M): Kairos $(printf '%.0f' "$KAIROS_QPS") req/s, server CPU ${KAIROS_CPU}% (core $SERVER_CPU busy ${KAIROS_CORE}%), load generator CPU ${KAIROS_LOAD}%"
  if [ "${PERF_PROFILE:-0}" = 1 ]; then
    echo "== Kairos, closed loop with a CPU profile of $((SECS - 2))s (not in the table): $OUT/kairos-cpu.pprof"
    curl -s -H "Authorization: Bearer $TOKEN" -o "$OUT/kairos-cpu.pprof" \
      "http://$KAIROS_ADMIN/debug/pprof/profile?seconds=$((SECS - 2))" &
    ppid=$!
    attack kairos-profiled "$KAIROS_ADDR" 0
    wait "$ppid" || echo "perf: the CPU profile failed" >&2
  fi
  HALF=$(awk -v q="$KAIROS_QPS" 'BEGIN { printf "%d", q / 2 }')
  echo "== Kairos, open loop at $HALF req/s, $DURATION"
  attack kairos-open "$KAIROS_ADDR" "$HALF" "$KAIROS_PID"
  echo "== baseline, open loop at $HALF req/s, $DURATION"
  attack baseline-open "$BASE_ADDR" "$HALF" "$BASE_PID"
  SERVER_PID=$KAIROS_PID; stop_server
fi
SERVER_PID=$BASE_PID; stop_server

echo "== the kernel's share per request as server work grows: baseline with 25us of busy work, closed loop, $DURATION"
start_baseline "$BASE_ADDR" -work 25us
attack work-max "$BASE_ADDR" 0 "$SERVER_PID"
stop_server

{
  echo "Load generator on core $LOAD_CPU, server on core $SERVER_CPU (pinned: $([ "$PIN" = 1 ] && echo yes || echo no)),"
  echo "$CORPUS_N generated requests (seed $SEED, ${KNOWN} of them from 100k imported known users), $DURATION per run,"
  echo "$WORKERS requests in flight in closed loop; Kairos on $([ ${#REDIS_ARGS[@]} -gt 0 ] && echo "the real Redis at $REDIS" || echo "its embedded Redis")."
  echo
  if [ -n "$KAIROS_BIN" ]; then
    echo "| | baseline (decode only) | Kairos | Kairos/baseline |"
    echo "|---|---:|---:|---:|"
    echo "| max throughput, req/s on one core (median of $ROUNDS interleaved rounds) | $(printf '%.0f' "$BASE_QPS") | $(printf '%.0f' "$KAIROS_QPS") | $(ratio "$BASE_QPS" "$KAIROS_QPS") |"
    echo "| Kairos/baseline in each round | | | $(ratios "$OUT/rounds.kairos") |"
    echo "| server CPU (server core busy) / load generator CPU, max run | ${BASE_CPU}% (${BASE_CORE}%) / ${BASE_LOAD}% | ${KAIROS_CPU}% (${KAIROS_CORE}%) / ${KAIROS_LOAD}% | |"
    for q in p50 p99 p999; do
      b=$(get "${q}_ms" baseline-open); k=$(get "${q}_ms" kairos-open)
      name=$q; [ "$q" = p999 ] && name=p99.9
      echo "| $name latency at $HALF req/s, ms | $(fmt "$b") | $(fmt "$k") | $(ratio "$b" "$k") |"
    done
    echo "| bid rate at $HALF req/s | $(fmt "$(get bid_rate baseline-open)") | $(fmt "$(get bid_rate kairos-open)") | |"
    # CPU per request at the same offered rate: unlike the closed-loop maximum,
    # both servers leave the load generator equally idle here (see README).
    bu=$(us_per_req "$(cat "$OUT/baseline-open.cpu")" "$(get throughput baseline-open)")
    ku=$(us_per_req "$(cat "$OUT/kairos-open.cpu")" "$(get throughput kairos-open)")
    echo "| server CPU per request at $HALF req/s, µs (last column: capacity, baseline ÷ Kairos) | $(fmt "$bu") | $(fmt "$ku") | $(ratio "$ku" "$bu") |"
    echo "| profile import through the admin API, profiles/s | | ${IMPORT_RATE:-} | |"
  else
    echo "| | baseline (decode only) |"
    echo "|---|---:|"
    echo "| max throughput, req/s on one core | $(printf '%.0f' "$BASE_QPS") |"
    echo "| server CPU (server core busy) / load generator CPU, max run | ${BASE_CPU}% (${BASE_CORE}%) / ${BASE_LOAD}% |"
    echo
    echo "Kairos rows skipped: cmd/kairos is missing or does not build."
  fi
  echo
  # Kernel time per request: the same decode-only server with 25us of busy
  # work per request pays more in the kernel per request, not just 25us more.
  for l in baseline-max work-max kairos-max; do
    [ -f "$OUT/$l.syscpu" ] || continue
    q=$(get throughput "$l")
    echo "- $l: $(printf '%.0f' "$q") req/s, server CPU $(us_per_req "$(cat "$OUT/$l.cpu")" "$q") µs per request, of which kernel $(us_per_req "$(cat "$OUT/$l.syscpu")" "$q") µs"
  done
  echo
  for w in $SWEEP; do
    echo "- baseline with $w of busy work per request: $(awk -v r="$(median "$OUT/rounds.work-$w")" 'BEGIN { printf "%.2fx", r }') the baseline's rate (median; rounds: $(ratios "$OUT/rounds.work-$w"))"
  done
  [ -z "$SWEEP" ] || echo
  echo "Load generator ceiling against a null server (no decoding): $(printf '%.0f' "$NULL_QPS") req/s," \
    "$(ratio "$BASE_QPS" "$NULL_QPS") the baseline's rate."
} | tee "$OUT/perf.md"

if [ "$BASE_CORE" -lt 90 ]; then
  echo "perf: WARNING: the baseline's core was only ${BASE_CORE}% busy: the load generator, not the server, may be the bottleneck" >&2
fi
if awk -v n="$NULL_QPS" -v b="$BASE_QPS" 'BEGIN { exit !(n < 1.2 * b) }'; then
  echo "perf: WARNING: the load generator's ceiling is within 20% of the baseline's rate" >&2
fi
echo "details: $OUT/*.txt, compare with: $BENCH compare $OUT/baseline-max.json $OUT/kairos-max.json"
